"""The fetch step: plan calls within the quota, fetch, validate, publish new bars.

Called by the DAG's fetch task through `market_pipeline.in_airflow.tasks`, and by the
simulated-day test with the same objects.  Every HTTP request, the client's
own retries included, is counted in the ledger and saved *before* it goes out
(`QuotaMeter`), and refused when the ledger cannot pay for it; a crash cannot
hide a spent request, and no retry can overspend.  The ledger is saved again
after every publish (a watermark only moves once Kafka has acknowledged the
bars it covers).  Each request is also appended to an API call log, which the
task writes to the warehouse whatever the run's outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

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
from market_pipeline.fetch.quota import (
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

PACING_MARGIN_SECONDS = 0.05


class FetchIncomplete(Exception):
    """Some symbols' replies were unusable; the other symbols' bars were published."""


class LedgerStore(Protocol):
    def load(self) -> Ledger: ...

    def save(self, ledger: Ledger) -> None: ...


class MemoryLedgerStore:
    """The ledger kept in memory, serialised as the Variable store does (replays and tests)."""

    def __init__(self) -> None:
        self.saved = Ledger().model_dump_json()

    def load(self) -> Ledger:
        return Ledger.model_validate_json(self.saved)

    def save(self, ledger: Ledger) -> None:
        self.saved = ledger.model_dump_json()


@dataclass
class PublishCounts:
    """The messages a fetch published: valid bars, and rejected rows to the dead-letter topic."""

    bars_published: int = 0
    rejected_published: int = 0


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
    """Counts every HTTP request in the ledger and saves it before the request goes out;
    refuses one the limits cannot pay for; keeps at least 1/per_second between requests
    (the API answers bursts with a throttle message); logs each request's outcome.

    The gap is measured from the previous answer, not from its send: the server counted that
    request before answering it, so however late it arrived, the next one lands a full gap later."""

    def __init__(
        self, store: LedgerStore, ledger: Ledger, limits: QuotaLimits, entitlement: str,
        now: Callable[[], datetime], sleep: Callable[[float], None], call_log: list[ApiCall] | None = None,
    ) -> None:
        self.store, self.ledger, self.limits, self.entitlement = store, ledger, limits, entitlement
        self.now, self.sleep = now, sleep
        self.call_log = call_log if call_log is not None else []
        self.requests = 0
        self._sent_at = now()
        self._answered_at: datetime | None = None

    def before_request(self, function: str, params: dict[str, str]) -> None:
        if self.ledger.capacity(self.limits, self.now()) < 1:
            raise QuotaRefused(f"{function} {params.get('symbol', '')}: not sent, the quota is spent "
                               f"({self.ledger.calls_today} requests today)")
        self._pace()
        self._sent_at = self.now()
        self.ledger.record_call(self._sent_at)
        self.store.save(self.ledger)
        self.requests += 1

    def after_request(self, outcome: RequestOutcome) -> None:
        self._answered_at = self.now()
        self.call_log.append(ApiCall(requested_at=self._sent_at, entitlement=self.entitlement, **asdict(outcome)))

    def _pace(self) -> None:
        # Another task's last request (the ledger) or this meter's last answer, whichever is later.
        previous = max((t for t in (self.ledger.last_call_at, self._answered_at) if t is not None), default=None)
        if previous is None:
            return
        wait = (1.0 / self.limits.per_second + PACING_MARGIN_SECONDS
                - (self.now() - previous).total_seconds())
        if wait > 0:
            self.sleep(wait)


# What one request can end in for a symbol without stopping the whole fetch: each loop decides
# what each means for its own run. Any other error (key, account, server) propagates.
SYMBOL_ERRORS = (QuotaRefused, DailyLimitReached, InvalidCall, MalformedReply, ReplyMismatch)


@dataclass(frozen=True)
class SymbolFetched:
    """One symbol's request: the bars it published, or the error that ended it (`SYMBOL_ERRORS`)."""

    error: AlphaVantageError | None = None
    bars: list[Bar] = field(default_factory=list)
    rejected: int = 0
    fetched_at: datetime | None = None


def fetch_one_symbol(
    request: Callable[[], SeriesReply],
    validate: Callable[[SeriesReply, datetime], tuple[list[Bar], list[RejectedBar]]],
    publish: Callable[[list[Message]], int],
    topics: tuple[str, str],
    counts: PublishCounts,
    *,
    ledger: Ledger,
    store: LedgerStore,
    now: Callable[[], datetime],
) -> SymbolFetched:
    """Request one symbol's series, validate it as of its arrival, publish its bars and rejects,
    and add them to `counts`; the daily limit is marked in the ledger at once."""
    try:
        reply = request()
    except SYMBOL_ERRORS as exc:
        if isinstance(exc, DailyLimitReached):
            ledger.mark_exhausted(now())
            store.save(ledger)
        return SymbolFetched(error=exc)
    fetched_at = now()
    bars, rejected = validate(reply, fetched_at)
    published = publish(messages_for(bars, rejected, *topics))
    counts.bars_published += len(bars)
    counts.rejected_published += published - len(bars)
    return SymbolFetched(bars=bars, rejected=len(rejected), fetched_at=fetched_at)


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
    client = connect(meter)
    outputsize = live_outputsize(config.entitlement, config.outputsize)
    try:
        for position, symbol in enumerate(summary.planned):
            state = ledger.symbol(symbol)
            fetched = fetch_one_symbol(
                partial(client.intraday, symbol, config.interval, outputsize=outputsize, adjusted=False,
                        extended_hours=config.extended_hours),
                partial(validate_series, newer_than=state.watermark),
                publish, topics, summary, ledger=ledger, store=store, now=now)
            match fetched.error:
                case QuotaRefused():
                    summary.deferred = summary.planned[position:]
                    log.warning("%s; deferred to a later run: %s", fetched.error, summary.deferred)
                    break
                case InvalidCall():
                    state.flagged = str(fetched.error)
                    summary.flagged[symbol] = str(fetched.error)
                    store.save(ledger)
                    log.warning("%s flagged and skipped from now on: %s", symbol, fetched.error)
                    continue
                case MalformedReply() | ReplyMismatch():
                    summary.failed[symbol] = f"{type(fetched.error).__name__}: {fetched.error}"
                    log.error("%s: reply rejected whole: %s", symbol, fetched.error)
                    continue
                case DailyLimitReached():
                    summary.daily_limit_reached = True
                    log.warning("daily limit reached; no more calls until %s", ledger.exhausted_until)
                    break
            if fetched.bars:
                state.watermark = fetched.bars[-1].bar_time
            state.last_fetch_at = fetched.fetched_at
            store.save(ledger)
            log.info("%s: %s new bars, %s rejected, watermark %s",
                     symbol, len(fetched.bars), fetched.rejected, state.watermark)
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
