"""Splits and dividends: what the reporting layer needs to turn as-traded bars into adjusted series.

Called by the `market_corporate_actions` DAG's task (`market_pipeline.in_airflow.tasks`).  Fetched
through the same client, meter, ledger and pool as the bars (SPLITS and DIVIDENDS, one request
each per symbol), and only from what `quota.history_allowance` leaves, so the live fetch's
reserve is never spent on them: each symbol once a week, stalest first, and at once after a
session whose traded price stepped like a split on a day with no known split (the warehouse's
`unexplained_price_jumps`), so a split is not a -67 % day in the adjusted views for a week.  Each symbol's replies
are handed to `record` (the warehouse, which replaces the symbol's stored actions with them)
before the ledger says the symbol was checked, so a crash between the two only checks it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from market_pipeline.fetch.alphavantage import (
    AlphaVantageClient,
    DailyLimitReached,
    Dividend,
    InvalidCall,
    MalformedReply,
    ReplyMismatch,
    RequestObserver,
    Split,
)
from market_pipeline.fetch.ledger_store import LedgerStore
from market_pipeline.fetch.live import ApiCall, FetchIncomplete, QuotaMeter
from market_pipeline.fetch.quota import Ledger, QuotaRefused, history_allowance
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.trading_calendar import EASTERN

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(hours=6)  # the DAG's schedule: a capped key's spare requests come at odd hours
ACTIONS_MAX_AGE = timedelta(days=7)
# An overnight step to at most 0.8x or at least 1.25x is split-sized (5-for-4 and up, and reverse
# splits); an ordinary session rarely gaps that far, and when it does the check costs two requests once.
SPLIT_SIZED_STEP = Decimal("0.8")
REQUESTS_PER_SYMBOL = 2  # SPLITS and DIVIDENDS


@dataclass(frozen=True)
class SymbolActions:
    """A symbol's splits and dividends as the API lists them now."""

    symbol: str
    splits: list[Split]
    dividends: list[Dividend]


@dataclass
class ActionsSummary:
    """What one check did; returned to Airflow as the task's XCom."""

    due: list[str] = field(default_factory=list)
    price_jumps: dict[str, str] = field(default_factory=dict)  # symbol: the session of an unexplained step
    checked: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the stored actions differed: adjusted series moved
    failed: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    calls_today: int = 0  # the ledger's count after this run


def actions_due(ledger: Ledger, watchlist: list[str], now: datetime,
                price_jumps: dict[str, date] | None = None) -> list[str]:
    """Watchlist symbols whose actions were not checked since their latest unexplained price
    jump (those first), then those never checked or not within a week, stalest first."""
    never = datetime.min.replace(tzinfo=UTC)

    def checked(symbol: str) -> datetime:
        return ledger.symbol(symbol).actions_checked_at or never

    def jumped_since_checked(symbol: str) -> bool:
        jump, last = (price_jumps or {}).get(symbol), ledger.symbol(symbol).actions_checked_at
        return jump is not None and (last is None or last.astimezone(EASTERN).date() < jump)

    candidates = [symbol for symbol in watchlist if not ledger.symbol(symbol).flagged]
    return sorted((symbol for symbol in candidates
                   if jumped_since_checked(symbol) or checked(symbol) <= now - ACTIONS_MAX_AGE),
                  key=lambda symbol: (not jumped_since_checked(symbol), checked(symbol)))


def check_corporate_actions(
    connect: Callable[[RequestObserver], AlphaVantageClient],
    store: LedgerStore,
    record: Callable[[SymbolActions], bool],
    config: PipelineConfig,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    call_log: list[ApiCall] | None = None,
    price_jumps: dict[str, date] | None = None,
) -> ActionsSummary:
    """Check the due symbols' actions (`price_jumps`: each symbol's latest session with an
    unexplained split-sized step) while the history allowance pays for both requests;
    `record` stores one symbol's actions and says whether they changed. An unusable reply fails
    its symbol only (it stays due) and FetchIncomplete is raised once the others are recorded;
    a spent quota ends the checks until the next run."""
    ledger = store.load()
    limits = config.quota.limits()
    meter = QuotaMeter(store, ledger, limits, config.entitlement, now, sleep, call_log)
    client = connect(meter)
    summary = ActionsSummary(due=actions_due(ledger, config.watchlist, now(), price_jumps),
                             price_jumps={symbol: day.isoformat() for symbol, day in (price_jumps or {}).items()})
    try:
        for symbol in summary.due:
            allowance = history_allowance(ledger, limits, config.watchlist, now(), entitlement=config.entitlement)
            if allowance < REQUESTS_PER_SYMBOL:
                log.info("%s requests left for history and actions now: the rest waits", allowance)
                break
            try:
                actions = SymbolActions(symbol, client.splits(symbol), client.dividends(symbol))
            except DailyLimitReached:
                meter.mark_exhausted()
                break
            except QuotaRefused:
                break
            except (InvalidCall, MalformedReply, ReplyMismatch) as exc:
                summary.failed[symbol] = f"{type(exc).__name__}: {exc}"
                log.error("%s: corporate actions reply rejected: %s", symbol, exc)
                continue
            if record(actions):
                summary.changed.append(symbol)
            ledger.symbol(symbol).actions_checked_at = now()
            store.save_symbol(symbol, ledger.symbol(symbol))
            summary.checked.append(symbol)
            log.info("%s: %s splits, %s dividends%s", symbol, len(actions.splits), len(actions.dividends),
                     ", changed since the last check" if symbol in summary.changed else "")
    finally:
        summary.calls = meter.requests
        summary.calls_today = ledger.calls_today
    if summary.failed:
        raise FetchIncomplete(f"corporate actions recorded for {summary.checked}; unusable replies: {summary.failed}")
    return summary
