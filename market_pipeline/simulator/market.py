"""Deterministic, plausible market data for the Alpha Vantage simulator.

Every bar is a pure function of (symbol, interval, bar start), seeded per
symbol and day, so two runs, or the simulator and a test, agree bar for bar.
The universe (`is_known`, `universe`, `symbol_profile`) is the 8 original symbols, some real
large-cap tickers and `SYM0001` to `SYM9999`, so a watchlist of hundreds of symbols can be tested;
past the originals, each symbol's price level and listing date are seeded by its name.
Sessions follow `market_pipeline.trading_calendar` (NYSE, holidays and half
days included); bars exist from 04:00 to 20:00 US/Eastern with extended hours,
09:30 to the close without.  A bar exists once it has ended; which bars a key
sees is the server's business (its entitlement's data horizon).

Corporate actions follow the real ones: the original symbols' splits since 2000 (integer ratios only) and
deterministic quarterly dividends for the payers.  The price generator works on the latest basis;
`day_bars` are as traded (before a split, prices are the later splits' ratios higher and volumes
as many times lower, so a split multiplies the shares traded as it does in the market), and
`adjusted_bars` adjusts them back as the API's default `adjusted=true` does.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from market_pipeline.trading_calendar import EASTERN, HISTORY_START, month_days, session_bounds, trading_days

INTERVAL_MINUTES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
# The original symbols and their rough price level; the universe adds INDEX_SYMBOLS and SYM0001..SYM9999.
KNOWN_SYMBOLS = {
    "TSLA": 240.0, "MSFT": 420.0, "GOOGL": 170.0, "AAPL": 225.0, "AMZN": 185.0,
    "NVDA": 120.0, "META": 560.0, "IBM": 210.0,
}
# First trading day of each symbol: the API has no bars before it.
LISTED = {
    "TSLA": date(2010, 6, 29), "MSFT": date(1986, 3, 13), "GOOGL": date(2004, 8, 19), "AAPL": date(1980, 12, 12),
    "AMZN": date(1997, 5, 15), "NVDA": date(1999, 1, 22), "META": date(2012, 5, 18), "IBM": date(1962, 1, 2),
}
# Real splits: (effective date, new shares per old share). The first session on the new basis is
# the effective date. NVDA's 3-for-2 of 2007-09-11 is left out: prices stay exact at four decimals.
SPLITS = {
    "TSLA": ((date(2020, 8, 31), 5), (date(2022, 8, 25), 3)),
    "AAPL": ((date(2000, 6, 21), 2), (date(2005, 2, 28), 2), (date(2014, 6, 9), 7), (date(2020, 8, 31), 4)),
    "NVDA": ((date(2000, 6, 27), 2), (date(2001, 9, 17), 2), (date(2006, 4, 7), 2), (date(2021, 7, 20), 4),
             (date(2024, 6, 10), 10)),
    "GOOGL": ((date(2022, 7, 18), 20),),
    "AMZN": ((date(2022, 6, 6), 20),),
    "MSFT": ((date(2003, 2, 18), 2),),
}
# Quarterly payers: (first ex-date, day of the month from which each ex-date falls in Feb, May,
# Aug and Nov, the dividend as a fraction of the price).
DIVIDEND_PAYERS = {
    "MSFT": (date(2003, 2, 19), 15, 0.0020),
    "IBM": (date(2000, 2, 8), 8, 0.0110),
    "AAPL": (date(2012, 8, 9), 10, 0.0012),
}
# Real large-cap index tickers (none of the originals): names only, their data is seeded like the
# generated symbols', without splits or dividends.
INDEX_SYMBOLS = (
    "JPM", "V", "JNJ", "WMT", "PG", "XOM", "UNH", "MA", "HD", "CVX", "MRK", "ABBV", "KO", "PEP", "COST",
    "AVGO", "LLY", "ADBE", "CRM", "NFLX", "CSCO", "ORCL", "INTC", "AMD", "QCOM", "TXN", "BAC", "WFC", "GS",
    "MS", "C", "DIS", "MCD", "NKE", "SBUX", "T", "VZ", "CMCSA", "PFE", "ABT", "TMO", "DHR", "BMY", "AMGN",
    "HON", "CAT", "BA", "GE", "UPS", "LMT", "LOW", "TGT", "BLK", "AXP", "NEE",
)
_GENERATED = re.compile(r"SYM(?!0000)[0-9]{4}")  # SYM0001 .. SYM9999
UNIVERSE_SIZE = len(KNOWN_SYMBOLS) + len(INDEX_SYMBOLS) + 9999
# Seeded listing dates fall in these years; the originals keep their real ones (LISTED).
GENERATED_LISTING_RANGE = (date(1990, 1, 1), date(2015, 12, 31))
FIRST_HISTORY_MONTH = HISTORY_START.strftime("%Y-%m")
TICK = Decimal("0.0001")  # the API quotes four decimals


@dataclass(frozen=True)
class SymbolProfile:
    price_level: float  # rough price on the latest basis
    listed: date  # first trading day: the API has no bars before it


@dataclass(frozen=True)
class SimBar:
    start: datetime  # US/Eastern, aware
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass(frozen=True)
class SimDividend:
    ex_date: date
    declaration_date: date
    record_date: date
    payment_date: date
    amount: Decimal  # per share as declared, on the basis of its ex-date


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def is_known(symbol: str) -> bool:
    """Whether `symbol` is in the universe; the API answers any other as an invalid call."""
    return symbol in KNOWN_SYMBOLS or symbol in INDEX_SYMBOLS or _GENERATED.fullmatch(symbol) is not None


def universe(count: int) -> list[str]:
    """The first `count` symbols of the universe, always in the same order: the originals, the index
    tickers, then SYM0001, SYM0002, ..."""
    if not 0 <= count <= UNIVERSE_SIZE:
        raise ValueError(f"the universe has {UNIVERSE_SIZE} symbols, not {count}")
    named = [*KNOWN_SYMBOLS, *INDEX_SYMBOLS]
    return [*named, *(f"SYM{number:04d}" for number in range(1, count - len(named) + 1))][:count]


def symbol_profile(symbol: str) -> SymbolProfile | None:
    """The symbol's price level and listing date; None outside the universe."""
    return _profile(symbol) if is_known(symbol) else None


@cache  # computed once per symbol: every bar asks for it
def _profile(symbol: str) -> SymbolProfile:
    """As `symbol_profile`, raising KeyError outside the universe as a look-up in the tables did."""
    if symbol in KNOWN_SYMBOLS:
        return SymbolProfile(KNOWN_SYMBOLS[symbol], LISTED[symbol])
    if not is_known(symbol):
        raise KeyError(symbol)
    rng = random.Random(_seed(symbol, "profile"))
    first, last = GENERATED_LISTING_RANGE
    listed = first + timedelta(days=rng.randrange((last - first).days + 1))
    # A weekday, not a session (the NYSE calendar starts in 2000): a holiday only means the first
    # bars come a session later.
    if listed.weekday() >= 5:
        listed += timedelta(days=7 - listed.weekday())
    return SymbolProfile(round(rng.uniform(10, 500), 2), listed)


def _day_open(symbol: str, day: date) -> float:
    """A slow cycle plus a seeded daily jump: levels move, but stay plausible."""
    base = _profile(symbol).price_level
    ordinal = day.toordinal()
    cycle = 0.12 * math.sin(2 * math.pi * ordinal / 240 + _seed(symbol) % 7)
    jump = random.Random(_seed(symbol, day)).gauss(0, 0.015)
    return base * (1 + cycle + jump)


def splits(symbol: str, until: date) -> list[tuple[date, int]]:
    """The symbol's splits effective by `until`, oldest first."""
    return [(day, ratio) for day, ratio in SPLITS.get(symbol, ()) if day <= until]


def split_multiple(symbol: str, day: date, as_of: date | None = None) -> int:
    """How many of the basis of `as_of` (default: the latest) one share trading on `day` became."""
    return math.prod(ratio for effective, ratio in SPLITS.get(symbol, ())
                     if day < effective and (as_of is None or effective <= as_of))


@cache
def dividends(symbol: str, until: date) -> tuple[SimDividend, ...]:
    """The symbol's dividends gone ex by `until`, oldest first: one a quarter, on the first session
    from the payer's day of February, May, August and November."""
    if symbol not in DIVIDEND_PAYERS:
        return ()
    first, day_of_month, dividend_yield = DIVIDEND_PAYERS[symbol]
    paid = []
    for year in range(first.year, until.year + 1):
        for month in (2, 5, 8, 11):
            ex_date = trading_days(date(year, month, day_of_month), date(year, month, day_of_month + 10))[0]
            if not first <= ex_date <= until:
                continue
            amount = Decimal(dividend_yield * _day_open(symbol, ex_date) * split_multiple(symbol, ex_date))
            paid.append(SimDividend(ex_date, ex_date - timedelta(days=28), ex_date + timedelta(days=1),
                                    ex_date + timedelta(days=21), amount.quantize(Decimal("0.01"))))
    return tuple(paid)


@cache
def day_bars(symbol: str, interval: str, day: date, extended_hours: bool) -> tuple[SimBar, ...]:
    """All bars of one trading day for one symbol as traded, oldest first."""
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    start, end = session_bounds(day, extended_hours)
    rng = random.Random(_seed(symbol, interval, day, extended_hours))
    price = _day_open(symbol, day)
    volatility = 0.0012 * math.sqrt(INTERVAL_MINUTES[interval])
    multiple = split_multiple(symbol, day)
    bars = []
    moment = start
    while moment < end:
        open_ = price
        close = open_ * math.exp(rng.gauss(0, volatility))
        high = max(open_, close) * (1 + abs(rng.gauss(0, volatility / 3)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, volatility / 3)))
        regular = time(9, 30) <= moment.time() < time(16, 0)
        # Drawn on the latest basis too: before a split, fewer shares changed hands at the higher price.
        volume = rng.lognormvariate(10 if regular else 7, 0.6) * INTERVAL_MINUTES[interval]
        bars.append(SimBar(moment, *(_money(value) * multiple for value in (open_, high, low, close)),
                           max(1, round(volume / multiple))))
        price = close
        moment += step
    return tuple(bars)


def intraday_bars(
    symbol: str, interval: str, until: datetime, *, extended_hours: bool = True,
    month: str | None = None, outputsize: str = "compact",
) -> list[SimBar]:
    """The bars that have ended by `until` (the key's data horizon), newest first
    (compact: 100; full: the 30 days before `until`, or the month)."""
    now_eastern = until.astimezone(EASTERN)
    if month is not None:
        first, last = month_days(month)
        first = max(first, _profile(symbol).listed)
    else:
        last = now_eastern.date()
        first = last - timedelta(days=30)
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    limit = 100 if outputsize == "compact" else None
    bars: list[SimBar] = []
    # Newest day first, so a compact reply stops after the days it needs.
    for day in reversed(trading_days(first, min(last, now_eastern.date()))):
        bars.extend(bar for bar in reversed(day_bars(symbol, interval, day, extended_hours))
                    if bar.start + step <= now_eastern)
        if limit is not None and len(bars) >= limit:
            break
    return bars[:limit]


def adjusted_bars(
    symbol: str, interval: str, bars: list[SimBar], as_of: date, *, extended_hours: bool = True
) -> list[SimBar]:
    """Bars as traded, adjusted for the splits and dividends gone ex by `as_of`, as the API's
    `adjusted=true` answers: prices divided by the splits since and multiplied by (1 - dividend /
    the close before its ex-date) for each dividend since, volumes multiplied by the splits since.
    The close before an ex-date is the last regular-hours bar of the session before it, of the
    same interval and hours."""
    factors = {}
    for dividend in dividends(symbol, as_of):
        before = trading_days(dividend.ex_date - timedelta(days=10), dividend.ex_date - timedelta(days=1))[-1]
        regular_open, regular_close = session_bounds(before, False)
        regular = [bar for bar in day_bars(symbol, interval, before, extended_hours)
                   if regular_open <= bar.start < regular_close]
        factors[dividend.ex_date] = 1 - dividend.amount / regular[-1].close

    def adjust(bar: SimBar) -> SimBar:
        day = bar.start.date()
        splits_since = split_multiple(symbol, day, as_of)
        dividend_factor = math.prod((factor for ex_date, factor in factors.items() if day < ex_date), start=Decimal(1))
        prices = (price / splits_since * dividend_factor for price in (bar.open, bar.high, bar.low, bar.close))
        return SimBar(bar.start, *(price.quantize(TICK) for price in prices), bar.volume * splits_since)

    return [adjust(bar) for bar in bars]


def month_available(symbol: str, month: str, until: datetime) -> bool:
    """Whether the API has a month of intraday history: from 2000-01 and the symbol's listing to
    the month of `until`."""
    last_listed_month = _profile(symbol).listed.strftime("%Y-%m")
    return max(FIRST_HISTORY_MONTH, last_listed_month) <= month <= until.astimezone(EASTERN).strftime("%Y-%m")


def daily_bars(symbol: str, until: datetime, outputsize: str = "compact") -> list[SimBar]:
    """Daily bars of the regular session, newest first; a session's once it has closed by `until`."""
    now_eastern = until.astimezone(EASTERN)
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
