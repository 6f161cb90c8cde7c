"""Quota ledger and call planner for Alpha Vantage keys.

Called by the fetch task, which runs in a one-slot Airflow pool, so only one
task at a time reads and writes the ledger.  The ledger has two parts, stored apart because
they grow differently (`market_pipeline.fetch.ledger_store`):
- the quota counters, written before every request: requests spent today (every HTTP request,
  retries included, counted before it goes out), the last minute's requests counted per second,
  the last request, and when a daily-limit answer says the budget is gone. A small JSON document
  (an Airflow Variable in production) whose size does not depend on the watchlist or the history;
- per symbol: its watermark (newest bar published), last fetch, any flag, when its splits and
  dividends were last checked, and the history months loaded. It grows with the watchlist and
  the years loaded, so it lives in the warehouse, one row per symbol and per month, each
  written when it changes.

The plan follows what the key can see (`market_pipeline.trading_calendar`):
- never a call while the ledger is marked exhausted or the limits are reached;
- a symbol never fetched is due at once (so a fresh install shows data);
- entitlement `none` (free keys: end-of-day data): no call until a session is
  published, then one call per symbol that returns the whole session
  (`outputsize=full`, so a 192-bar extended day is complete); the rest of the
  day's budget is left for history;
- `delayed` or `realtime` with a daily cap: the budget is spread evenly over
  the session as the key sees it (shifted by the delay), stalest symbol first,
  keeping one call per symbol for a final refresh once the session's last bar
  is visible;
- `delayed` or `realtime` without a daily cap (premium): every symbol on every
  run while new bars can appear (04:00 to 20:00 US/Eastern plus the delay,
  with extended hours), within the per-minute limit, then the final refresh;
- otherwise the market is closed and no call is made, unless forced.
A compact reply holds 100 bars (8 h 20 min of 5-minute bars), so the spaced
refreshes of a capped key leave no gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator

from market_pipeline.fetch.alphavantage import AlphaVantageError
from market_pipeline.trading_calendar import (
    EASTERN,
    ENTITLEMENT_DELAY,
    Entitlement,
    month_days,
    publication_time,
    published_session,
    session_bounds,
    sessions_until,
    trading_days,
)

MINUTE = timedelta(minutes=1)
# More threads than this gain nothing on one Airflow worker: replies take longer to parse than to arrive.
MAX_IN_FLIGHT = 16


class QuotaRefused(AlphaVantageError):
    """The ledger cannot pay for another request, so it is not sent (not retryable)."""


@dataclass(frozen=True)
class QuotaLimits:
    """The key's limits; None means unlimited (premium keys have no daily cap)."""

    per_day: int | None = 25
    per_minute: int | None = None
    per_second: float = 1.0

    @property
    def in_flight(self) -> int:
        """Requests a fetch keeps in flight at once: one for a key allowed one request a second or
        fewer (the free tier: one at a time), else as many as its burst limit, at most 16."""
        return max(1, min(MAX_IN_FLIGHT, math.floor(self.per_second)))

    @property
    def burst(self) -> tuple[int, float]:
        """The per-second limit as (requests, in seconds): 20 a second is (20, 1.0), 0.5 (1, 2.0)."""
        requests = max(1, math.floor(self.per_second))
        return requests, requests / self.per_second


class MonthLoad(BaseModel):
    """A history month of one symbol, published whole (or answered as unavailable)."""

    run_id: str
    clear_number: int  # the run's clear number then: a run cleared since is asked to load again
    bars: int
    loaded_at: datetime
    unavailable: str | None = None  # the API's answer for a month before listing or in the future
    # Asked for as traded (adjusted=false). Months loaded before the project asked so are
    # adjusted as of their fetch: the history fetch loads them again (docs/runbook.md).
    as_traded: bool = False

    @property
    def stored_adjusted(self) -> bool:
        """Bars were published for it before the fetch asked for them as traded."""
        return not self.as_traded and not self.unavailable


class SymbolState(BaseModel):
    watermark: datetime | None = None  # bar_time (UTC) of the newest live bar published
    last_fetch_at: datetime | None = None
    flagged: str | None = None  # why the API rejected the symbol; flagged symbols are skipped
    actions_checked_at: datetime | None = None  # splits and dividends last fetched
    months: dict[str, MonthLoad] = Field(default_factory=dict)  # history loaded, by "YYYY-MM"


class Ledger(BaseModel):
    """The quota counters (what the Variable holds) and, in memory only, the symbols' state."""

    day: date | None = None  # the quota day (UTC) the counts belong to
    calls_today: int = 0  # HTTP requests, retries included
    # The last minute's requests, counted per whole second and filed under the second after the
    # request (so a request is forgotten a little late, never early): at most 61 entries,
    # whatever the key's per-minute limit.
    recent_calls: list[tuple[datetime, int]] = Field(default_factory=list)
    last_call_at: datetime | None = None
    exhausted_until: datetime | None = None
    # Not stored with the counters: the store keeps each symbol's row in the warehouse.
    symbols: dict[str, SymbolState] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _count_legacy_calls_per_second(cls, data: Any) -> Any:
        """A ledger written before the counts per second held each request's time."""
        calls = data.get("recent_calls") if isinstance(data, dict) else None
        if calls and not isinstance(calls[0], list | tuple):
            data = {**data, "recent_calls": _per_second(datetime.fromisoformat(str(moment)) for moment in calls)}
        return data

    @classmethod
    def from_stored(cls, stored: str | None) -> Ledger:
        """The ledger as its Variable holds it; a Variable not written yet is an empty ledger. A
        Variable written before the symbols moved to the warehouse still holds them: they are
        parsed, so the store can move them (`ledger_store`)."""
        return cls.model_validate_json(stored) if stored else cls()

    def roll_over(self, now: datetime) -> None:
        """Start a new quota day at UTC midnight; forget calls older than a minute."""
        if self.day != now.date():
            self.day, self.calls_today = now.date(), 0
        self.recent_calls = [(second, count) for second, count in self.recent_calls if now - second < MINUTE]
        if self.exhausted_until is not None and now >= self.exhausted_until:
            self.exhausted_until = None

    def calls_last_minute(self, now: datetime) -> int:
        self.roll_over(now)
        return sum(count for _, count in self.recent_calls)

    def daily_capacity(self, limits: QuotaLimits, now: datetime) -> float:
        """How many more requests the day allows (inf when uncapped; 0 once the API said so)."""
        self.roll_over(now)
        if self.exhausted_until is not None:
            return 0
        if limits.per_day is None:
            return math.inf
        return max(limits.per_day - self.calls_today, 0)

    def capacity(self, limits: QuotaLimits, now: datetime) -> float:
        """How many more requests the limits allow right now (inf when uncapped)."""
        left = self.daily_capacity(limits, now)
        if limits.per_minute is not None:
            left = min(left, limits.per_minute - self.calls_last_minute(now))
        return max(left, 0)

    def record_call(self, now: datetime) -> None:
        self.roll_over(now)
        self.calls_today += 1
        second = _filing_second(now)
        if self.recent_calls and self.recent_calls[-1][0] == second:
            self.recent_calls[-1] = (second, self.recent_calls[-1][1] + 1)
        else:
            self.recent_calls.append((second, 1))
        self.last_call_at = now

    def mark_exhausted(self, now: datetime) -> None:
        self.exhausted_until = next_quota_reset(now)

    def symbol(self, symbol: str) -> SymbolState:
        return self.symbols.setdefault(symbol, SymbolState())


def _filing_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def _per_second(moments: Iterable[datetime]) -> list[tuple[datetime, int]]:
    counts: dict[datetime, int] = {}
    for moment in sorted(moments):
        counts[_filing_second(moment)] = counts.get(_filing_second(moment), 0) + 1
    return list(counts.items())


def months_stored_adjusted(loaded: dict[str, dict[str, MonthLoad]]) -> dict[str, list[str]]:
    """Of the history months loaded ({symbol: {"YYYY-MM": load}}), those loaded before the fetch
    asked for bars as traded, so stored adjusted as of their fetch: {"YYYY-MM": [symbols]},
    oldest first. The history fetch loads them again."""
    months: dict[str, list[str]] = {}
    for symbol, symbol_months in sorted(loaded.items()):
        for month, load in symbol_months.items():
            if load.stored_adjusted:
                months.setdefault(month, []).append(symbol)
    return dict(sorted(months.items()))


def month_ranges(months: list[str]) -> list[tuple[str, str]]:
    """Sorted "YYYY-MM" months as (first, last) runs of consecutive months."""
    ranges: list[tuple[str, str]] = []
    for month in months:
        previous = (month_days(month)[0] - timedelta(days=1)).strftime("%Y-%m")
        if ranges and ranges[-1][1] == previous:
            ranges[-1] = (ranges[-1][0], month)
        else:
            ranges.append((month, month))
    return ranges


def next_quota_reset(now: datetime) -> datetime:
    """The API's day is taken to turn at midnight UTC (the simulator does the same)."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)


def history_allowance(
    ledger: Ledger, limits: QuotaLimits, watchlist: Iterable[str], now: datetime, *, entitlement: Entitlement
) -> int:
    """Requests history may spend today without touching what the live fetch needs (the
    per-minute limit is the meter's to wait for).

    End-of-day keys keep one request per symbol for the session published today; capped
    delayed/realtime keys spend their whole budget on sessions, so history gets only the days
    without one (keeping the final refresh of the day before); uncapped keys share the minute."""
    capacity = ledger.daily_capacity(limits, now)
    if limits.per_day is None:
        return int(min(capacity, 10_000))
    reserve = len([symbol for symbol in watchlist if not ledger.symbol(symbol).flagged])
    if entitlement != "none" and trading_days(now.date(), now.date()):
        return 0
    return int(max(0, min(capacity, limits.per_day - ledger.calls_today - reserve)))


def live_outputsize(entitlement: Entitlement, configured: str) -> str:
    """End-of-day keys fetch a whole session at once: a compact reply (100 bars) cannot hold an
    extended-hours day (192 five-minute bars); `full` returns the trailing 30 days."""
    return "full" if entitlement == "none" else configured


def plan_calls(
    ledger: Ledger,
    limits: QuotaLimits,
    watchlist: Iterable[str],
    now: datetime,
    *,
    entitlement: Entitlement = "none",
    extended_hours: bool = True,
    force: bool = False,
) -> list[str]:
    """The symbols to fetch now, in order; never more than the limits allow."""
    capacity = ledger.capacity(limits, now)
    if capacity <= 0:
        return []
    symbols = [symbol for symbol in watchlist if not ledger.symbol(symbol).flagged]
    stalest_first = sorted(symbols, key=lambda s: ledger.symbol(s).last_fetch_at or datetime.min.replace(tzinfo=UTC))
    never_fetched = [s for s in stalest_first if ledger.symbol(s).last_fetch_at is None]
    if force:
        due = stalest_first
    elif entitlement == "none":
        due = never_fetched + _due_end_of_day(ledger, stalest_first, now)
    else:
        due = never_fetched + _due_intraday(
            ledger, limits, stalest_first, now, ENTITLEMENT_DELAY[entitlement], extended_hours
        )
    unique = list(dict.fromkeys(due))
    return unique[: int(min(capacity, len(unique)))]


def explain_idle(
    ledger: Ledger, limits: QuotaLimits, watchlist: Iterable[str], now: datetime, *, entitlement: Entitlement
) -> str:
    """Why a plan is empty, in words for the run's summary and the demo."""
    if ledger.exhausted_until is not None:
        return f"the API's daily limit was reached; no call until {ledger.exhausted_until:%Y-%m-%d %H:%M} UTC"
    if ledger.capacity(limits, now) <= 0:
        return f"the key's limits are spent ({ledger.calls_today} requests today)"
    if all(ledger.symbol(symbol).flagged for symbol in watchlist):
        return "every symbol of the watchlist is flagged as unknown to the API"
    if entitlement == "none":
        session = published_session(now)
        upcoming = next(day for day in trading_days(now.date(), now.date() + timedelta(days=10))
                        if session is None or day > session)
        return (f"end-of-day data (entitlement none): every symbol was fetched after the "
                f"{session} session was published; the {upcoming} session is published at "
                f"{publication_time(upcoming).astimezone(EASTERN):%Y-%m-%d %H:%M %Z}")
    if limits.per_day is not None:
        return (f"entitlement {entitlement}: {limits.per_day - ledger.calls_today} requests left today are spread "
                f"over the session, one call per symbol kept for the final refresh; none is due now")
    return f"entitlement {entitlement}: no new bars can appear now (the market is closed)"


def _fetched_since(ledger: Ledger, symbol: str, moment: datetime) -> bool:
    last = ledger.symbol(symbol).last_fetch_at
    return last is not None and last >= moment


def _due_end_of_day(ledger: Ledger, symbols: list[str], now: datetime) -> list[str]:
    """One call per symbol per published session."""
    session = published_session(now)
    if session is None:
        return []
    published_at = publication_time(session)
    return [s for s in symbols if not _fetched_since(ledger, s, published_at)]


def _due_intraday(
    ledger: Ledger, limits: QuotaLimits, symbols: list[str], now: datetime, delay: timedelta, extended_hours: bool
) -> list[str]:
    """Session times are shifted by the entitlement's delay: a bar is visible `delay` after it ends."""
    session = _current_session(now - delay, extended_hours)
    if session is None:
        return []
    first_bar, data_end = (moment + delay for moment in session_bounds(session, extended_hours))
    opened, close = (moment + delay for moment in session_bounds(session, extended_hours=False))
    if now >= data_end:
        # The session is complete as the key sees it: one final refresh per symbol not fetched since.
        return [s for s in symbols if not _fetched_since(ledger, s, data_end)]
    if limits.per_day is None:
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


def _current_session(moment: datetime, extended_hours: bool) -> date | None:
    """The latest session whose first bar has started by `moment`."""
    started = [day for day in sessions_until(moment) if session_bounds(day, extended_hours)[0] <= moment]
    return started[-1] if started else None
