"""The simulator's universe: the 8 original symbols exactly as before, real index tickers and
SYM0001 to SYM9999, each answered with deterministic data, and anything else answered as unknown."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, market
from market_pipeline.trading_calendar import EASTERN
from tests.conftest import TEST_API_KEY

TRADING_MORNING = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 US/Eastern
WATCHLIST_SIZE = 500
ORIGINALS = ["TSLA", "MSFT", "GOOGL", "AAPL", "AMZN", "NVDA", "META", "IBM"]
OUTSIDE_THE_UNIVERSE = ["ZZZZ", "SYM0000", "SYM10000", "SYM001"]
PINNED_DAY = date(2024, 11, 5)
# Computed with the simulator before the universe existed: (first 5min bar's open, close, volume,
# the extended session's volume) on PINNED_DAY. A change here means the originals' data drifted.
PINNED_FIRST_BARS = {
    "TSLA": (Decimal("231.8849"), Decimal("231.7520"), 1108, 11253022),
    "MSFT": (Decimal("436.1235"), Decimal("435.6671"), 13078, 11500152),
    "IBM": (Decimal("201.1114"), Decimal("200.4790"), 2842, 10147542),
}


def simulator_at(moment: datetime = TRADING_MORNING) -> AlphaVantageSimulator:
    # speed=0: the clock stands still, so two simulators answer at the very same moment.
    return AlphaVantageSimulator(SimClock(moment, speed=0),
                                 SimulatorOptions(per_second=None, per_minute=None, per_day=None))


def intraday(simulator: AlphaVantageSimulator, symbol: str, **params: str) -> dict:
    _, body = simulator.answer({"function": "TIME_SERIES_INTRADAY", "symbol": symbol, "interval": "5min",
                                "apikey": TEST_API_KEY, **params})
    return json.loads(body)


def test_should_list_500_distinct_symbols_originals_first_in_a_stable_order():
    symbols = market.universe(WATCHLIST_SIZE)
    assert len(set(symbols)) == WATCHLIST_SIZE
    assert symbols[:8] == ORIGINALS
    assert symbols == market.universe(WATCHLIST_SIZE)
    assert market.universe(20) == symbols[:20]


def test_should_end_the_universe_at_sym9999():
    symbols = market.universe(market.UNIVERSE_SIZE)
    assert len(set(symbols)) == market.UNIVERSE_SIZE and symbols[-1] == "SYM9999"
    assert all(market.is_known(symbol) for symbol in symbols)
    with pytest.raises(ValueError):
        market.universe(market.UNIVERSE_SIZE + 1)


def test_should_answer_every_watchlist_symbol_with_intraday_bars():
    simulator = simulator_at()
    for symbol in market.universe(WATCHLIST_SIZE):
        reply = intraday(simulator, symbol)
        assert reply["Meta Data"]["2. Symbol"] == symbol
        assert len(reply["Time Series (5min)"]) == 100, symbol


def test_should_give_generated_symbols_a_seeded_level_and_listing_date():
    for symbol in market.universe(WATCHLIST_SIZE)[8:]:
        profile = market.symbol_profile(symbol)
        assert profile is not None and 10 <= profile.price_level <= 500, symbol
        assert date(1990, 1, 1) <= profile.listed <= date(2015, 12, 31) and profile.listed.weekday() < 5, symbol
        assert market.splits(symbol, TRADING_MORNING.date()) == [] and market.dividends(symbol, date(2026, 1, 1)) == ()


def test_should_answer_a_generated_symbol_the_same_way_twice_and_unlike_another():
    first, second = simulator_at(), simulator_at()
    assert first.answer({"function": "TIME_SERIES_INTRADAY", "symbol": "SYM0042", "interval": "5min",
                         "apikey": TEST_API_KEY}) == second.answer(
        {"function": "TIME_SERIES_INTRADAY", "symbol": "SYM0042", "interval": "5min", "apikey": TEST_API_KEY})
    one = intraday(first, "SYM0001")["Time Series (5min)"]
    two = intraday(first, "SYM0002")["Time Series (5min)"]
    assert one.keys() == two.keys() and one != two


def test_should_keep_the_original_symbols_bars_exactly_as_before():
    for symbol, (open_, close, volume, session_volume) in PINNED_FIRST_BARS.items():
        bars = market.day_bars(symbol, "5min", PINNED_DAY, True)
        assert bars[0].start == datetime(2024, 11, 5, 4, 0, tzinfo=EASTERN)
        assert (bars[0].open, bars[0].close, bars[0].volume) == (open_, close, volume), symbol
        assert sum(bar.volume for bar in bars) == session_volume, symbol
    before_split = market.day_bars("TSLA", "5min", date(2020, 8, 28), True)[0]
    assert (before_split.open, before_split.close, before_split.volume) == (
        Decimal("3451.3050"), Decimal("3470.2065"), 194), "as traded, before the 5-for-1 and 3-for-1"
    assert market.dividends("IBM", date(2024, 12, 31))[-1].amount == Decimal("2.23")
    assert {symbol: market.symbol_profile(symbol).listed for symbol in ORIGINALS} == market.LISTED


@pytest.mark.parametrize("symbol", OUTSIDE_THE_UNIVERSE)
def test_should_answer_a_symbol_outside_the_universe_as_unknown(symbol):
    simulator = simulator_at()
    assert not market.is_known(symbol) and market.symbol_profile(symbol) is None
    assert intraday(simulator, symbol)["Error Message"].startswith("Invalid API call")
    _, quote = simulator.answer({"function": "GLOBAL_QUOTE", "symbol": symbol, "apikey": TEST_API_KEY})
    assert json.loads(quote) == {"Global Quote": {}}


def test_should_answer_a_month_before_a_generated_symbol_s_listing_as_unavailable():
    # Listed after the API's history starts (2000-01), so the listing, not the history, is what refuses.
    symbol = next(symbol for symbol in market.universe(WATCHLIST_SIZE)[8:]
                  if market.symbol_profile(symbol).listed >= date(2001, 1, 1))
    listed = market.symbol_profile(symbol).listed
    month_before = (listed.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    simulator = simulator_at()
    refused = intraday(simulator, symbol, month=month_before, outputsize="full")
    assert refused["Error Message"].startswith("Invalid API call")
    served = intraday(simulator, symbol, month=listed.strftime("%Y-%m"), outputsize="full")["Time Series (5min)"]
    assert served and min(served)[:10] >= listed.isoformat()
