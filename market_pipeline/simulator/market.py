"""Deterministic, plausible market data for the Alpha Vantage simulator.

Every bar is a pure function of (symbol, interval, bar start), seeded per
symbol and day, so two runs, or the simulator and a test, agree bar for bar.
Sessions follow the NYSE calendar (exchange_calendars' XNYS: holidays and
half-days included); bars exist from 04:00 to 20:00 US/Eastern with extended
hours, 09:30 to the close without.  A bar is published once it has ended.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from market_pipeline.trading_calendar import EASTERN, nyse

INTERVAL_MINUTES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
EXTENDED_OPEN = time(4, 0)
EXTENDED_CLOSE = time(20, 0)
# The simulator's symbols and their rough price level; any other symbol is unknown.
KNOWN_SYMBOLS = {
    "TSLA": 240.0, "MSFT": 420.0, "GOOGL": 170.0, "AAPL": 225.0, "AMZN": 185.0,
    "NVDA": 120.0, "META": 560.0, "IBM": 210.0,
}
TICK = Decimal("0.0001")  # the API quotes four decimals


@dataclass(frozen=True)
class SimBar:
    start: datetime  # US/Eastern, aware
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


def trading_days(first: date, last: date) -> list[date]:
    """NYSE sessions between two dates, both included."""
    sessions = nyse().sessions_in_range(first.isoformat(), last.isoformat())
    return [session.date() for session in sessions]


def session_bounds(day: date, extended_hours: bool) -> tuple[datetime, datetime]:
    """When bars start and stop on a trading day, US/Eastern (half days close early)."""
    calendar = nyse()
    close = calendar.session_close(day.isoformat()).tz_convert(EASTERN).to_pydatetime()
    if not extended_hours:
        open_ = calendar.session_open(day.isoformat()).tz_convert(EASTERN).to_pydatetime()
        return open_, close
    # Early-close days keep their post-market short as well.
    extended_close = datetime.combine(day, EXTENDED_CLOSE, EASTERN)
    if close.time() < time(16, 0):
        extended_close = close + timedelta(hours=4)
    return datetime.combine(day, EXTENDED_OPEN, EASTERN), extended_close


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _day_open(symbol: str, day: date) -> float:
    """A slow cycle plus a seeded daily jump: levels move, but stay plausible."""
    base = KNOWN_SYMBOLS[symbol]
    ordinal = day.toordinal()
    cycle = 0.12 * math.sin(2 * math.pi * ordinal / 240 + _seed(symbol) % 7)
    jump = random.Random(_seed(symbol, day)).gauss(0, 0.015)
    return base * (1 + cycle + jump)


@cache
def day_bars(symbol: str, interval: str, day: date, extended_hours: bool) -> tuple[SimBar, ...]:
    """All bars of one trading day for one symbol, oldest first."""
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    start, end = session_bounds(day, extended_hours)
    rng = random.Random(_seed(symbol, interval, day, extended_hours))
    price = _day_open(symbol, day)
    volatility = 0.0012 * math.sqrt(INTERVAL_MINUTES[interval])
    bars = []
    moment = start
    while moment < end:
        open_ = price
        close = open_ * math.exp(rng.gauss(0, volatility))
        high = max(open_, close) * (1 + abs(rng.gauss(0, volatility / 3)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, volatility / 3)))
        regular = time(9, 30) <= moment.time() < time(16, 0)
        volume = int(rng.lognormvariate(10 if regular else 7, 0.6) * INTERVAL_MINUTES[interval])
        bars.append(SimBar(moment, _money(open_), _money(high), _money(low), _money(close), volume))
        price = close
        moment += step
    return tuple(bars)


def intraday_bars(
    symbol: str, interval: str, now: datetime, *, extended_hours: bool = True,
    month: str | None = None, outputsize: str = "compact",
) -> list[SimBar]:
    """The bars the API would return at `now`, newest first (compact: 100; full: 30 days or the month)."""
    now_eastern = now.astimezone(EASTERN)
    if month is not None:
        first = date.fromisoformat(f"{month}-01")
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    else:
        last = now_eastern.date()
        first = last - timedelta(days=30)
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    bars = [
        bar
        for day in trading_days(first, min(last, now_eastern.date()))
        for bar in day_bars(symbol, interval, day, extended_hours)
        if bar.start + step <= now_eastern
    ]
    bars.reverse()
    return bars[:100] if outputsize == "compact" else bars


def daily_bars(symbol: str, now: datetime, outputsize: str = "compact") -> list[SimBar]:
    """Daily bars of the regular session, newest first; today's once the session has closed."""
    now_eastern = now.astimezone(EASTERN)
    days = trading_days(now_eastern.date() - timedelta(days=150 if outputsize == "compact" else 3650),
                        now_eastern.date())
    bars = []
    for day in days:
        if session_bounds(day, extended_hours=False)[1] > now_eastern:
            continue
        session = day_bars(symbol, "5min", day, False)
        bars.append(SimBar(
            start=datetime.combine(day, time(0), EASTERN),
            open=session[0].open,
            high=max(bar.high for bar in session),
            low=min(bar.low for bar in session),
            close=session[-1].close,
            volume=sum(bar.volume for bar in session),
        ))
    bars.reverse()
    return bars[:100] if outputsize == "compact" else bars


def _money(value: float) -> Decimal:
    return Decimal(value).quantize(TICK)
