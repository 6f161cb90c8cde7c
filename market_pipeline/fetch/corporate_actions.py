"""Splits and dividends: what the reporting layer needs to turn as-traded bars into adjusted series.

Called by the `market_corporate_actions` DAG's task (`market_pipeline.in_airflow.tasks`).  Fetched
through the same client, meter, ledger and pool as the bars (SPLITS and DIVIDENDS, one request
each per symbol), and only from what `quota.history_allowance` leaves, so the live fetch's
reserve is never spent on them: each symbol once a week, stalest first.  Each symbol's replies
are handed to `record` (the warehouse, which replaces the symbol's stored actions with them)
before the ledger says the symbol was checked, so a crash between the two only checks it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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
from market_pipeline.fetch.live import ApiCall, FetchIncomplete, LedgerStore, QuotaMeter
from market_pipeline.fetch.quota import Ledger, QuotaRefused, history_allowance
from market_pipeline.pipeline_config import PipelineConfig

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(hours=6)  # the DAG's schedule: a capped key's spare requests come at odd hours
ACTIONS_MAX_AGE = timedelta(days=7)
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
    checked: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the stored actions differed: adjusted series moved
    failed: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    calls_today: int = 0  # the ledger's count after this run


def actions_due(ledger: Ledger, watchlist: list[str], now: datetime) -> list[str]:
    """Watchlist symbols whose actions were never checked or not within a week, stalest first."""
    never = datetime.min.replace(tzinfo=now.tzinfo)
    due = [symbol for symbol in watchlist if not ledger.symbol(symbol).flagged
           and (ledger.symbol(symbol).actions_checked_at or never) <= now - ACTIONS_MAX_AGE]
    return sorted(due, key=lambda symbol: ledger.symbol(symbol).actions_checked_at or never)


def check_corporate_actions(
    connect: Callable[[RequestObserver], AlphaVantageClient],
    store: LedgerStore,
    record: Callable[[SymbolActions], bool],
    config: PipelineConfig,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    call_log: list[ApiCall] | None = None,
) -> ActionsSummary:
    """Check the due symbols' actions while the history allowance pays for both requests;
    `record` stores one symbol's actions and says whether they changed. An unusable reply fails
    its symbol only (it stays due) and FetchIncomplete is raised once the others are recorded;
    a spent quota ends the checks until the next run."""
    ledger = store.load()
    limits = config.quota.limits()
    meter = QuotaMeter(store, ledger, limits, config.entitlement, now, sleep, call_log)
    client = connect(meter)
    summary = ActionsSummary(due=actions_due(ledger, config.watchlist, now()))
    try:
        for symbol in summary.due:
            allowance = history_allowance(ledger, limits, config.watchlist, now(), entitlement=config.entitlement)
            if allowance < REQUESTS_PER_SYMBOL:
                log.info("%s requests left for history and actions now: the rest waits", allowance)
                break
            try:
                actions = SymbolActions(symbol, client.splits(symbol), client.dividends(symbol))
            except DailyLimitReached:
                ledger.mark_exhausted(now())
                store.save(ledger)
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
            store.save(ledger)
            summary.checked.append(symbol)
            log.info("%s: %s splits, %s dividends%s", symbol, len(actions.splits), len(actions.dividends),
                     ", changed since the last check" if symbol in summary.changed else "")
    finally:
        summary.calls = meter.requests
        summary.calls_today = ledger.calls_today
    if summary.failed:
        raise FetchIncomplete(f"corporate actions recorded for {summary.checked}; unusable replies: {summary.failed}")
    return summary
