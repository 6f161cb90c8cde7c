"""The freshness watchdog's judgement: is a symbol's newest bar older than it may be, at a moment
when newer bars are expected?

Pure logic on the same calendar and entitlement rules the fetch plans by
(`market_pipeline.trading_calendar`); the `market_freshness_watchdog` DAG feeds it the
warehouse's newest bars, the config and the quota ledger, records the verdicts for the reporting
layer (`market.freshness_checks`) and fails, so alerts go out, when any symbol is stale.

- delayed / realtime: while a session is open to the key (its delayed clock inside the fetched
  hours), the newest bar may lag the newest visible bar by at most `max_age_minutes`.
- none (end-of-day data): the latest published session must be loaded within
  `end_of_day_grace_minutes` of its publication.
- Quiet, whatever the bars: the market is closed to the key, the symbol is flagged (the API does
  not know it), or the quota is knowingly spent until its reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from market_pipeline.fetch.quota import Ledger
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.trading_calendar import (
    EASTERN,
    data_horizon,
    publication_time,
    published_session,
    session_bounds,
    sessions_until,
)

INTERVAL_MINUTES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}


@dataclass(frozen=True)
class Verdict:
    symbol: str
    newest_bar: datetime | None
    expected: bool  # newer bars are expected now
    stale: bool
    reason: str

    def as_row(self, checked_at: datetime) -> dict:
        return {"symbol": self.symbol, "newest_bar": self.newest_bar, "bars_expected": self.expected,
                "stale": self.stale, "reason": self.reason, "checked_at": checked_at}


def assess(config: PipelineConfig, ledger: Ledger, newest: dict[str, datetime | None], now: datetime) -> list[Verdict]:
    """One verdict per watchlist symbol at `now`; `newest` holds each symbol's newest bar start."""
    quota_spent = ledger.model_copy(deep=True).capacity(config.quota.limits(), now) == 0
    return [_assess_symbol(config, ledger, symbol, newest.get(symbol), now, quota_spent)
            for symbol in config.watchlist]


def _assess_symbol(config: PipelineConfig, ledger: Ledger, symbol: str, newest: datetime | None, now: datetime,
                   quota_spent: bool) -> Verdict:
    def verdict(expected: bool, stale: bool, reason: str) -> Verdict:
        return Verdict(symbol, newest, expected, stale, reason)

    if flagged := ledger.symbol(symbol).flagged:
        return verdict(False, False, f"flagged: {flagged}")
    bar = timedelta(minutes=INTERVAL_MINUTES[config.interval])
    newest_end = newest + bar if newest else None
    if config.entitlement == "none":
        session = published_session(now)
        if session is None:
            return verdict(False, False, "no published session yet")
        session_end = session_bounds(session, config.extended_hours)[1]
        if newest_end is not None and newest_end >= session_end:
            return verdict(False, False, f"the {session} session is loaded")
        due = publication_time(session) + timedelta(minutes=config.freshness.end_of_day_grace_minutes)
        if quota_spent:
            return verdict(True, False, "quota spent until its reset")
        if now < due:
            return verdict(True, False, f"the {session} session is due by {due.astimezone(EASTERN):%H:%M %Z}")
        return verdict(True, True, f"the {session} session, published at "
                                   f"{publication_time(session).astimezone(EASTERN):%H:%M %Z}, is not loaded")
    horizon = data_horizon(now, config.entitlement)
    opening = [day for day in sessions_until(horizon) if session_bounds(day, config.extended_hours)[0] <= horizon]
    if not opening or horizon >= session_bounds(opening[-1], config.extended_hours)[1]:
        return verdict(False, False, "market closed to the key")
    if quota_spent:
        return verdict(True, False, "quota spent until its reset")
    session_open = session_bounds(opening[-1], config.extended_hours)[0]
    newest_visible_end = session_open + (horizon - session_open) // bar * bar
    lag = newest_visible_end - max(newest_end or session_open, session_open)
    limit = timedelta(minutes=config.freshness.max_age_minutes)
    if lag > limit:
        return verdict(True, True,
                       f"newest bar {_minutes(lag)} behind the newest visible one (limit {_minutes(limit)})")
    return verdict(True, False, f"within {_minutes(limit)} of the newest visible bar")


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"
