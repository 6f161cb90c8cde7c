"""The history fetch: one calendar month of intraday bars per watchlist symbol.

Called by the `market_bars_history` DAG (through `market_pipeline.in_airflow.operators`)
for its data interval's month, one run per month, so Airflow's backfill is the
interface.  Every request goes through the same ledger, meter and pool as the
live fetch (`market_pipeline.fetch.live`), and history spends only what
`quota.history_allowance` leaves it, never the live fetch's reserve.  Bars go
to the same topics in the same format; the live watermark neither filters
them nor moves.

A (symbol, month) is recorded in the ledger once published whole, so a task
retry fetches only what is missing; a run that Airflow runs again (a backfill
with `--reprocess-behavior`, or a Clear) has a higher clear number and loads
its month again.  A month still in progress is not fetched: the task waits
(defers) until its last session is visible to the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from market_pipeline.bars import validate_series
from market_pipeline.fetch.alphavantage import (
    AlphaVantageClient,
    DailyLimitReached,
    InvalidCall,
    MalformedReply,
    ReplyMismatch,
    RequestObserver,
)
from market_pipeline.fetch.ledger_store import LedgerStore
from market_pipeline.fetch.live import (
    ApiCall,
    FetchIncomplete,
    PublishCounts,
    QuotaMeter,
    SymbolFetched,
    fetch_concurrently,
    fetch_one_symbol,
    per_thread,
)
from market_pipeline.fetch.quota import MonthLoad, QuotaRefused, history_allowance, next_quota_reset
from market_pipeline.kafka_io import Message
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC
from market_pipeline.trading_calendar import (
    EASTERN,
    ENTITLEMENT_DELAY,
    Entitlement,
    month_days,
    publication_time,
    session_bounds,
    trading_days,
)

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class HistorySummary(PublishCounts):
    month: str
    symbols: list[str] = field(default_factory=list)  # the month's symbols to load in this run
    loaded: list[str] = field(default_factory=list)
    already_loaded: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    resume_at: datetime | None = None  # the quota ran out: wait for its reset
    requests_left_for_history: int = 0

    @property
    def remaining(self) -> list[str]:
        return [s for s in self.symbols if s not in self.loaded and s not in self.unavailable]

    def as_dict(self) -> dict:
        return {**self.__dict__, "resume_at": self.resume_at.isoformat() if self.resume_at else None}


def month_of(interval_start: datetime) -> str:
    """The month of a run's data interval (the DAG's monthly timetable runs in UTC)."""
    return interval_start.astimezone(UTC).strftime("%Y-%m")


def month_complete_at(month: str, entitlement: Entitlement) -> datetime:
    """When the key can see the month's last bar: its last session published, or ended plus the delay."""
    first, last_day = month_days(month)
    sessions = trading_days(first, last_day)
    if not sessions:
        return datetime.combine(last_day, datetime.min.time(), EASTERN)
    if entitlement == "none":
        return publication_time(sessions[-1])
    return session_bounds(sessions[-1], extended_hours=True)[1] + ENTITLEMENT_DELAY[entitlement]


def fetch_history_month(
    connect: Callable[[RequestObserver], AlphaVantageClient],
    store: LedgerStore,
    publish: Callable[[list[Message]], int],
    config: PipelineConfig,
    month: str,
    *,
    run_id: str,
    clear_number: int,
    topics: tuple[str, str] = (BARS_TOPIC, DEAD_LETTER_TOPIC),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    call_log: list[ApiCall] | None = None,
) -> HistorySummary:
    """Load what the allowance pays for, as traded (`adjusted=false`); `resume_at` says when to go
    on if requests ran out. A month loaded before the project asked for bars as traded holds
    adjusted prices, so it counts as not loaded and is loaded again."""
    ledger = store.load(months=[month])
    limits = config.quota.limits()
    summary = HistorySummary(month=month)
    for symbol in config.watchlist:
        state = ledger.symbol(symbol)
        done = state.months.get(month)
        if state.flagged:
            continue
        if done is not None and not done.stored_adjusted and not (
                done.run_id == run_id and done.clear_number < clear_number):
            summary.already_loaded.append(symbol)
        else:
            summary.symbols.append(symbol)
    complete_at = month_complete_at(month, config.entitlement)
    if now() < complete_at:
        # A month still in progress: wait for its last bar rather than load part of it.
        summary.resume_at = complete_at
        log.info("%s is not complete for entitlement %s before %s", month, config.entitlement, complete_at)
        return summary
    # The meter refuses, at its send, a request history may not spend: exact with requests in flight.
    meter = QuotaMeter(store, ledger, limits, config.entitlement, now, sleep, call_log, budget=lambda moment:
                       history_allowance(ledger, limits, config.watchlist, moment, entitlement=config.entitlement))
    client = per_thread(lambda: connect(meter))
    failed: dict[str, str] = {}

    def fetch(symbol: str) -> SymbolFetched:
        return fetch_one_symbol(
            partial(client().intraday, symbol, config.interval, outputsize="full", month=month, adjusted=False,
                    extended_hours=config.extended_hours),
            validate_series, publish, topics, meter=meter, now=now)

    def handle(symbol: str, fetched: SymbolFetched) -> bool:
        match fetched.error:
            case QuotaRefused() | DailyLimitReached():
                summary.resume_at = ledger.exhausted_until or next_quota_reset(now())
                return False
            case InvalidCall():
                # For a known symbol, a month before its listing or in the future.
                summary.unavailable[symbol] = str(fetched.error)
                store.save_month(symbol, month, MonthLoad(
                    run_id=run_id, clear_number=clear_number, bars=0, loaded_at=now(), unavailable=str(fetched.error)))
                return True
            case MalformedReply() | ReplyMismatch():
                failed[symbol] = f"{type(fetched.error).__name__}: {fetched.error}"
                return True
        summary.add(fetched)
        summary.loaded.append(symbol)
        store.save_month(symbol, month, MonthLoad(
            run_id=run_id, clear_number=clear_number, bars=len(fetched.bars), loaded_at=now(), as_traded=True))
        log.info("%s %s: %s bars published, %s rejected", symbol, month, len(fetched.bars), fetched.rejected)
        return True

    try:
        fetch_concurrently(summary.symbols, fetch, handle, limits.in_flight)
    finally:
        summary.calls = meter.requests
        summary.requests_left_for_history = history_allowance(
            ledger, limits, config.watchlist, now(), entitlement=config.entitlement)
    if failed:
        raise FetchIncomplete(f"{month}: published {summary.loaded}; unusable replies: {failed}")
    return summary


def history_progress(months_loaded: int, first: str | None, last: str | None, symbols: int) -> str:
    """"N of M symbol-months loaded from the first month loaded to the last", for the task log."""
    if not months_loaded or first is None or last is None:
        return "no history loaded yet"
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    return f"{months_loaded} of {span * symbols} symbol-months loaded from {first} to {last}"
