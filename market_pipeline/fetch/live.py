"""The fetch step: plan calls within the quota, fetch, validate, publish new bars.

Called by the DAG's fetch task through `market_pipeline.in_airflow.tasks`, and by the
simulated-day test with the same objects.  Every HTTP request, the client's
own retries included, is counted in the ledger and saved *before* it goes out
(`QuotaMeter`), and refused when the ledger cannot pay for it; a crash cannot
hide a spent request, and no retry can overspend.  A symbol's state is saved
after its publish (a watermark only moves once Kafka has acknowledged the
bars it covers).  Each request is also appended to an API call log, which the
task writes to the warehouse whatever the run's outcome.

A key allowed more than one request a second keeps several in flight
(`QuotaLimits.in_flight`, `fetch_concurrently`); the meter is the one place
that counts, paces and saves, under a lock, so concurrency changes how fast
the plan is worked through, never what is counted.  The free key stays at
one request at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from market_pipeline.bars import Bar, RejectedBar, validate_series
from market_pipeline.fetch.alphavantage import (
    AlphaVantageClient,
    AlphaVantageError,
    DailyLimitReached,
    InvalidCall,
    MalformedReply,
    ReplyMismatch,
    RequestObserver,
    RequestOutcome,
    SeriesReply,
)
from market_pipeline.fetch.ledger_store import LedgerStore
from market_pipeline.fetch.quota import (
    MINUTE,
    Ledger,
    QuotaLimits,
    QuotaRefused,
    explain_idle,
    live_outputsize,
    plan_calls,
)
from market_pipeline.kafka_io import Message
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC
from market_pipeline.trading_calendar import ENTITLEMENT_DELAY

log = logging.getLogger(__name__)
T = TypeVar("T")

PACING_MARGIN_SECONDS = 0.05
# How often a fetch thread held back by requests in flight looks again.
IN_FLIGHT_POLL_SECONDS = 0.01


class FetchIncomplete(Exception):
    """Some symbols' replies were unusable; the other symbols' bars were published."""


@dataclass
class PublishCounts:
    """The messages a fetch published: valid bars, and rejected rows to the dead-letter topic."""

    bars_published: int = 0
    rejected_published: int = 0

    def add(self, fetched: SymbolFetched) -> None:
        self.bars_published += len(fetched.bars)
        self.rejected_published += fetched.messages_published - len(fetched.bars)


@dataclass
class FetchSummary(PublishCounts):
    """What one fetch run did; returned to Airflow as the task's XCom (no secrets in it)."""

    planned: list[str] = field(default_factory=list)
    calls: int = 0
    flagged: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)  # planned, but the quota ran out (retries spent it)
    daily_limit_reached: bool = False
    calls_today: int = 0  # the ledger's count after this run
    idle_reason: str | None = None  # why nothing was planned

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ApiCall:
    """One row of the API call log (`market.api_calls`)."""

    requested_at: datetime
    function: str
    symbol: str | None
    month: str | None
    entitlement: str
    outcome: str
    http_status: int | None
    bars: int | None

    def as_row(self) -> dict:
        return asdict(self)


class QuotaMeter(RequestObserver):
    """Counts every HTTP request in the ledger and saves it before the request goes out; refuses
    one the day cannot pay for (`budget`, by default the ledger's daily capacity); waits while the
    key's per-second or per-minute limit is reached; logs each request's outcome. Safe for several
    fetch threads: one lock orders the check, the count and the save.

    A request stays in a limit's window from its send until a full window after its answer: the
    server counted it somewhere in between, so however late it arrived, it never sees more than the
    limit in one window. At one request a second, the next one goes a second after the answer."""

    def __init__(
        self, store: LedgerStore, ledger: Ledger, limits: QuotaLimits, entitlement: str,
        now: Callable[[], datetime], sleep: Callable[[float], None], call_log: list[ApiCall] | None = None,
        budget: Callable[[datetime], float] | None = None,
    ) -> None:
        self.store, self.ledger, self.limits, self.entitlement = store, ledger, limits, entitlement
        self.now, self.sleep = now, sleep
        self.call_log = call_log if call_log is not None else []
        self.budget = budget or (lambda moment: ledger.daily_capacity(limits, moment))
        self.requests = 0
        self._lock = threading.Lock()
        self._this_thread = threading.local()  # the request in flight: (sent at, its window entry)
        # When each request still in a window was answered ([None] while in flight); another
        # task's last request (the ledger's) counts as answered when it was sent.
        self._answers: list[list[datetime | None]] = [[ledger.last_call_at]] if ledger.last_call_at else []

    def before_request(self, function: str, params: dict[str, str]) -> None:
        while True:
            with self._lock:
                moment = self.now()
                if self.budget(moment) < 1:
                    raise QuotaRefused(f"{function} {params.get('symbol', '')}: not sent, the quota is spent "
                                       f"({self.ledger.calls_today} requests today)")
                wait = self._wait(moment)
                if wait <= 0:
                    self.ledger.record_call(moment)
                    self.store.save(self.ledger)
                    # In a window only once saved: a failed save sends nothing, so no answer comes.
                    answer: list[datetime | None] = [None]
                    self._answers.append(answer)
                    self._this_thread.request = (moment, answer)
                    self.requests += 1
                    return
            self.sleep(wait)

    def after_request(self, outcome: RequestOutcome) -> None:
        with self._lock:
            sent_at, answer = self._this_thread.request
            answer[0] = self.now()
            self.call_log.append(ApiCall(requested_at=sent_at, entitlement=self.entitlement, **asdict(outcome)))

    def mark_exhausted(self) -> None:
        """The API answered with its daily limit: no request until the reset, whatever the count."""
        with self._lock:
            self.ledger.mark_exhausted(self.now())
            self.store.save(self.ledger)

    def _wait(self, moment: datetime) -> float:
        """Seconds until the limits allow a request at `moment` (0: now)."""
        self._answers = [a for a in self._answers if a[0] is None or (moment - a[0]).total_seconds() < 61]
        waits = [self._window_wait(moment, *self.limits.burst)]
        if self.limits.per_minute is not None:
            waits.append(self._window_wait(moment, self.limits.per_minute, 60.0))
            if self.ledger.calls_last_minute(moment) >= self.limits.per_minute:
                # Requests of earlier tasks: wait for the oldest second counted to leave the minute.
                waits.append((self.ledger.recent_calls[0][0] + MINUTE - moment).total_seconds())
        return max(waits)

    def _window_wait(self, moment: datetime, limit: int, seconds: float) -> float:
        window = seconds + PACING_MARGIN_SECONDS
        in_window = [a[0] for a in self._answers if a[0] is None or (moment - a[0]).total_seconds() < window]
        if len(in_window) < limit:
            return 0.0
        # The limit-th newest answer must leave the window; a request still in flight: ask again soon.
        newest_first = sorted(in_window, key=lambda answered: answered or datetime.max.replace(tzinfo=UTC),
                              reverse=True)
        leaving = newest_first[limit - 1]
        if leaving is None:
            return IN_FLIGHT_POLL_SECONDS
        return window - (moment - leaving).total_seconds()


# What one request can end in for a symbol without stopping the whole fetch: each loop decides
# what each means for its own run. Any other error (key, account, server) propagates.
SYMBOL_ERRORS = (QuotaRefused, DailyLimitReached, InvalidCall, MalformedReply, ReplyMismatch)


@dataclass(frozen=True)
class SymbolFetched:
    """One symbol's request: the bars it published, or the error that ended it (`SYMBOL_ERRORS`)."""

    error: AlphaVantageError | None = None
    bars: list[Bar] = field(default_factory=list)
    rejected: int = 0
    messages_published: int = 0  # bars and rejected rows
    fetched_at: datetime | None = None


def fetch_one_symbol(
    request: Callable[[], SeriesReply],
    validate: Callable[[SeriesReply, datetime], tuple[list[Bar], list[RejectedBar]]],
    publish: Callable[[list[Message]], int],
    topics: tuple[str, str],
    *,
    meter: QuotaMeter,
    now: Callable[[], datetime],
) -> SymbolFetched:
    """Request one symbol's series, validate it as of its arrival, publish its bars and rejects;
    the daily limit is marked in the ledger at once. Runs on a fetch thread: it changes no state
    but the meter's."""
    try:
        reply = request()
    except SYMBOL_ERRORS as exc:
        if isinstance(exc, DailyLimitReached):
            meter.mark_exhausted()
        return SymbolFetched(error=exc)
    fetched_at = now()
    bars, rejected = validate(reply, fetched_at)
    published = publish(messages_for(bars, rejected, *topics))
    return SymbolFetched(bars=bars, rejected=len(rejected), messages_published=published, fetched_at=fetched_at)


def fetch_concurrently(
    symbols: list[str],
    fetch: Callable[[str], SymbolFetched],
    handle: Callable[[str, SymbolFetched], bool],
    in_flight: int,
) -> list[str]:
    """Run `fetch` for the symbols in their order, `in_flight` at a time, and hand each outcome
    to `handle` on the calling thread (so only it changes the run's state); once `handle` returns
    False no other symbol starts. Returns the symbols never started. An error `fetch` does not
    catch ends the run once the requests in flight are answered."""
    waiting = deque(symbols)
    go_on = True
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="fetch") as pool:
        running: dict[Future[SymbolFetched], str] = {}
        while running or (go_on and waiting):
            while go_on and waiting and len(running) < in_flight:
                symbol = waiting.popleft()
                running[pool.submit(fetch, symbol)] = symbol
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in [future for future in running if future in done]:  # in the plan's order
                symbol = running.pop(future)
                go_on = handle(symbol, future.result()) and go_on
    return list(waiting)


def per_thread(make: Callable[[], T]) -> Callable[[], T]:
    """One object per fetch thread (an API client: a requests.Session is not thread-safe)."""
    local = threading.local()

    def get() -> T:
        if not hasattr(local, "value"):
            local.value = make()
        return local.value
    return get


def fetch_and_publish(
    connect: Callable[[RequestObserver], AlphaVantageClient],
    store: LedgerStore,
    publish: Callable[[list[Message]], int],
    config: PipelineConfig,
    *,
    topics: tuple[str, str] = (BARS_TOPIC, DEAD_LETTER_TOPIC),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    call_log: list[ApiCall] | None = None,
) -> FetchSummary:
    """One run of the fetch step; `connect(observer)` builds the client that reports to the meter.
    Bars are asked for as traded (`adjusted=false`): `market.bars` never holds adjusted prices.

    An unknown symbol is flagged and skipped; an unusable reply (malformed, or for another symbol
    or interval) fails only its symbol, and FetchIncomplete is raised once the others are published.
    Errors of the key or the account (invalid key, premium, throttling, server down) stop the run."""
    ledger = store.load()
    limits = config.quota.limits()
    summary = FetchSummary()
    summary.planned = plan_calls(
        ledger, limits, config.watchlist, now(), entitlement=config.entitlement,
        extended_hours=config.extended_hours, force=config.fetch_when_closed,
    )
    if not summary.planned:
        summary.idle_reason = explain_idle(ledger, limits, config.watchlist, now(), entitlement=config.entitlement)
    log.info("planned calls: %s (%s requests spent today, entitlement %s)%s", summary.planned or "none",
             ledger.calls_today, config.entitlement, f": {summary.idle_reason}" if summary.idle_reason else "")
    meter = QuotaMeter(store, ledger, limits, config.entitlement, now, sleep, call_log)
    client = per_thread(lambda: connect(meter))
    outputsize = live_outputsize(config.entitlement, config.outputsize)
    watermarks = {symbol: ledger.symbol(symbol).watermark for symbol in summary.planned}
    refused: list[str] = []

    def fetch(symbol: str) -> SymbolFetched:
        return fetch_one_symbol(
            partial(client().intraday, symbol, config.interval, outputsize=outputsize, adjusted=False,
                    extended_hours=config.extended_hours),
            partial(validate_series, newer_than=watermarks[symbol]), publish, topics, meter=meter, now=now)

    def handle(symbol: str, fetched: SymbolFetched) -> bool:
        state = ledger.symbol(symbol)
        match fetched.error:
            case QuotaRefused():
                refused.append(symbol)
                return False
            case InvalidCall():
                state.flagged = str(fetched.error)
                summary.flagged[symbol] = str(fetched.error)
                store.save_symbol(symbol, state)
                log.warning("%s flagged and skipped from now on: %s", symbol, fetched.error)
                return True
            case MalformedReply() | ReplyMismatch():
                summary.failed[symbol] = f"{type(fetched.error).__name__}: {fetched.error}"
                log.error("%s: reply rejected whole: %s", symbol, fetched.error)
                return True
            case DailyLimitReached():
                summary.daily_limit_reached = True
                log.warning("daily limit reached; no more calls until %s", ledger.exhausted_until)
                return False
        summary.add(fetched)
        if fetched.bars:
            state.watermark = fetched.bars[-1].bar_time
        state.last_fetch_at = fetched.fetched_at
        store.save_symbol(symbol, state)
        log.info("%s: %s new bars, %s rejected, watermark %s",
                 symbol, len(fetched.bars), fetched.rejected, state.watermark)
        return True

    try:
        not_started = fetch_concurrently(summary.planned, fetch, handle, limits.in_flight)
        if refused:
            summary.deferred = [symbol for symbol in summary.planned if symbol in {*refused, *not_started}]
            log.warning("the quota is spent; deferred to a later run: %s", summary.deferred)
    finally:
        summary.calls = meter.requests
        summary.calls_today = ledger.calls_today
    if summary.failed:
        raise FetchIncomplete(f"published {summary.bars_published} bars; unusable replies: {summary.failed}")
    return summary


def fetch_state_rows(config: PipelineConfig, ledger: Ledger, now: datetime) -> list[dict]:
    """The watchlist as this run sees it (`market.fetch_state`): what the key may see and how
    many requests a day it may make; the reporting layer's freshness and quota views read it."""
    return [
        {
            "symbol": symbol, "interval": config.interval, "entitlement": config.entitlement,
            "extended_hours": config.extended_hours, "data_delay": ENTITLEMENT_DELAY.get(config.entitlement),
            "flagged": ledger.symbol(symbol).flagged, "requests_per_day": config.quota.per_day, "recorded_at": now,
        }
        for symbol in config.watchlist
    ]


def messages_for(
    bars: list[Bar], rejected: list[RejectedBar], bars_topic: str, dead_letter_topic: str
) -> list[Message]:
    return [Message(bars_topic, bar.symbol.encode(), bar.to_message()) for bar in bars] + [
        Message(dead_letter_topic, row.symbol.encode(), row.to_message()) for row in rejected
    ]
