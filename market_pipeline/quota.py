"""Quota ledger and call planner for the Alpha Vantage free tier.

Called by the fetch task, which runs in a one-slot Airflow pool, so only one
task at a time reads and writes the ledger.  The ledger is a small JSON
document (an Airflow Variable in production): calls spent today, recent call
times, when a daily-limit answer says the budget is gone, and per symbol its
watermark (newest bar published), last fetch and any flag.

Planning rules, in order:
- nothing while the ledger is marked exhausted, or the day's calls are spent;
- a symbol never fetched is due at once (so a fresh install shows data);
- while the NYSE regular session is open, calls are spread evenly over what is
  left of it, keeping one call per symbol in reserve, stalest symbol first;
- once a session's last bar is out (20:00 US/Eastern with extended hours, the
  close without), each symbol gets one final refresh that completes the day;
- with no daily cap (premium keys), every symbol is due on every run from the
  first bar of the day (04:00 with extended hours) to the last;
- otherwise the market is closed and no call is made, unless forced.
A compact reply holds 100 bars (8 h 20 min of 5-minute bars), so these spaced
refreshes leave no gap in a regular session.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field

from market_pipeline.trading_calendar import EASTERN, nyse

MINUTE = timedelta(minutes=1)
PRE_MARKET = timedelta(hours=5, minutes=30)  # extended hours start at 04:00 US/Eastern


@dataclass(frozen=True)
class QuotaLimits:
    """The key's limits; None means unlimited (premium keys have no daily cap)."""

    per_day: int | None = 25
    per_minute: int | None = None
    per_second: float = 1.0


class SymbolState(BaseModel):
    watermark: datetime | None = None  # bar_time (UTC) of the newest bar published
    last_fetch_at: datetime | None = None
    flagged: str | None = None  # why the API rejected the symbol; flagged symbols are skipped


class Ledger(BaseModel):
    day: date | None = None  # the quota day (UTC) the counts belong to
    calls_today: int = 0
    recent_calls: list[datetime] = Field(default_factory=list)  # the last minute's calls
    last_call_at: datetime | None = None
    exhausted_until: datetime | None = None
    symbols: dict[str, SymbolState] = Field(default_factory=dict)

    def roll_over(self, now: datetime) -> None:
        """Start a new quota day at UTC midnight; forget calls older than a minute."""
        if self.day != now.date():
            self.day, self.calls_today = now.date(), 0
        self.recent_calls = [moment for moment in self.recent_calls if now - moment < MINUTE]
        if self.exhausted_until is not None and now >= self.exhausted_until:
            self.exhausted_until = None

    def record_call(self, now: datetime) -> None:
        self.roll_over(now)
        self.calls_today += 1
        self.recent_calls.append(now)
        self.last_call_at = now

    def mark_exhausted(self, now: datetime) -> None:
        self.exhausted_until = next_quota_reset(now)

    def symbol(self, symbol: str) -> SymbolState:
        return self.symbols.setdefault(symbol, SymbolState())


def next_quota_reset(now: datetime) -> datetime:
    """The API's day is taken to turn at midnight UTC (the simulator does the same)."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)


def _last_session(now: datetime, lead: timedelta = timedelta(0)) -> tuple[datetime, datetime] | None:
    """(open, close) in UTC of the latest NYSE session whose open, less `lead`, is past."""
    calendar = nyse()
    today = now.astimezone(EASTERN).date()
    sessions = calendar.sessions_in_range((today - timedelta(days=10)).isoformat(), today.isoformat())
    for session in reversed(sessions):
        opened = calendar.session_open(session).to_pydatetime()
        if opened - lead <= now:
            return opened, calendar.session_close(session).to_pydatetime()
    return None


def session_data_end(close: datetime, extended_hours: bool) -> datetime:
    """When a session's last bar is out: the close, or four hours later with extended hours."""
    return close + timedelta(hours=4) if extended_hours else close


def plan_calls(
    ledger: Ledger,
    limits: QuotaLimits,
    watchlist: Iterable[str],
    now: datetime,
    *,
    extended_hours: bool = True,
    force: bool = False,
) -> list[str]:
    """The symbols to fetch now, in order; never more than the limits allow."""
    ledger.roll_over(now)
    if ledger.exhausted_until is not None:
        return []
    symbols = [symbol for symbol in watchlist if not ledger.symbol(symbol).flagged]
    stalest_first = sorted(symbols, key=lambda s: ledger.symbol(s).last_fetch_at or datetime.min.replace(tzinfo=UTC))

    capacity = math.inf
    if limits.per_day is not None:
        capacity = limits.per_day - ledger.calls_today
    if limits.per_minute is not None:
        capacity = min(capacity, limits.per_minute - len(ledger.recent_calls))
    if capacity <= 0:
        return []

    never_fetched = [s for s in stalest_first if ledger.symbol(s).last_fetch_at is None]
    if force:
        due = stalest_first
    else:
        due = never_fetched + _due_by_schedule(ledger, limits, stalest_first, now, extended_hours)
    unique = list(dict.fromkeys(due))
    return unique[: int(min(capacity, len(unique)))]


def _due_by_schedule(
    ledger: Ledger, limits: QuotaLimits, symbols: list[str], now: datetime, extended_hours: bool
) -> list[str]:
    uncapped = limits.per_day is None
    session = _last_session(now, PRE_MARKET if uncapped and extended_hours else timedelta(0))
    if session is None:
        return []
    opened, close = session
    data_end = session_data_end(close, extended_hours)
    if now >= data_end:
        # The session is complete: one final refresh per symbol not fetched since.
        return [s for s in symbols if ledger.symbol(s).last_fetch_at is None
                or ledger.symbol(s).last_fetch_at < data_end]
    if uncapped:
        return symbols  # no daily cap: every symbol on every run while new bars can appear
    if not opened <= now < close:
        return []
    # Spread what is left (minus one final refresh per symbol) evenly over the rest of the session.
    spendable = limits.per_day - ledger.calls_today - len(symbols)
    if spendable <= 0:
        return []
    gap = (close - now) / spendable
    # Counting from before the open lets the first call go at the open, not a burst.
    last_call = max(ledger.last_call_at or opened - gap, opened - gap)
    allowed = int((now - last_call) / gap) if gap > timedelta(0) else spendable
    return symbols[: max(0, min(allowed, spendable))]
