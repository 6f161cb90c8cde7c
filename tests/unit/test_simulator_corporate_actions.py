"""The simulator's corporate actions, as the API models them: real split dates and ratios, quarterly
dividends for the payers, as-traded bars with `adjusted=false`, and by default bars adjusted as of
the simulated clock."""

from datetime import UTC, date, datetime
from decimal import Decimal

import requests

from market_pipeline.simulator import market
from tests.conftest import TEST_API_KEY


def intraday(simulator, symbol, month, **params):
    reply = requests.get(simulator.base_url, params={
        "function": "TIME_SERIES_INTRADAY", "symbol": symbol, "interval": "5min", "month": month,
        "outputsize": "full", "apikey": TEST_API_KEY, **params}, timeout=30).json()
    return {stamp: {name[3:]: Decimal(value) for name, value in bar.items()}
            for stamp, bar in reply["Time Series (5min)"].items()}


def test_as_traded_prices_drop_about_five_times_overnight_at_tsla_s_2020_split(simulator):
    raw = intraday(simulator, "TSLA", "2020-08", adjusted="false")
    before, after = raw["2020-08-28 19:55:00"], raw["2020-08-31 04:00:00"]
    assert 4 < before["close"] / after["open"] < 6
    # On the latest basis (after the 3-for-1 of 2022 too) the same two bars are a normal night apart.
    adjusted = intraday(simulator, "TSLA", "2020-08")
    assert adjusted["2020-08-28 19:55:00"]["close"] == before["close"] / 15
    assert adjusted["2020-08-31 04:00:00"]["open"] == after["open"] / 3
    assert adjusted["2020-08-28 19:55:00"]["volume"] == before["volume"] * 15
    assert 0.9 < adjusted["2020-08-28 19:55:00"]["close"] / adjusted["2020-08-31 04:00:00"]["open"] < 1.1


def test_as_traded_volume_rises_with_the_split_and_split_adjusted_volume_does_not():
    def session_volume(day: date, adjusted_as_of: date | None = None) -> int:
        bars = list(market.day_bars("TSLA", "5min", day, True))
        if adjusted_as_of:
            bars = market.adjusted_bars("TSLA", "5min", bars, adjusted_as_of)
        return sum(bar.volume for bar in bars)

    friday, monday = date(2020, 8, 28), date(2020, 8, 31)
    assert 3 < session_volume(monday) / session_volume(friday) < 8, "five times the shares after a 5-for-1"
    today = date(2026, 11, 24)
    assert 0.6 < session_volume(monday, today) / session_volume(friday, today) < 1.6


def test_the_default_adjusts_as_of_the_simulated_clock(simulator):
    simulator.simulator.clock.set(datetime(2021, 6, 1, 15, tzinfo=UTC))  # after 2020's split, before 2022's
    raw = intraday(simulator, "TSLA", "2020-07", adjusted="false")
    adjusted = intraday(simulator, "TSLA", "2020-07")
    assert all(adjusted[stamp]["close"] == bar["close"] / 5 for stamp, bar in raw.items())


def test_splits_reply_lists_the_real_splits_effective_by_the_clock_newest_first(simulator):
    simulator.simulator.clock.set(datetime(2021, 6, 1, 15, tzinfo=UTC))
    reply = requests.get(simulator.base_url, params={"function": "SPLITS", "symbol": "TSLA",
                                                     "apikey": TEST_API_KEY}, timeout=10).json()
    assert reply == {"symbol": "TSLA", "data": [{"effective_date": "2020-08-31", "split_factor": "5.0000"}]}


def test_payers_pay_every_quarter_and_adjusted_prices_follow_each_dividend(simulator):
    reply = requests.get(simulator.base_url, params={"function": "DIVIDENDS", "symbol": "MSFT",
                                                     "apikey": TEST_API_KEY}, timeout=10).json()
    ex_dates = [row["ex_dividend_date"] for row in reply["data"]]
    assert ex_dates == sorted(ex_dates, reverse=True)
    assert [day for day in ex_dates if day.startswith("2024")] == ["2024-11-15", "2024-08-15", "2024-05-15",
                                                                   "2024-02-15"]
    assert set(reply["data"][0]) == {"ex_dividend_date", "declaration_date", "record_date", "payment_date", "amount"}
    assert market.dividends("TSLA", date(2026, 1, 1)) == ()

    # August 2024 bars as of a clock after the 2024-08-15 ex-date: those before it are multiplied by
    # (1 - dividend / the close before the ex-date), those from it on are as traded.
    simulator.simulator.clock.set(datetime(2024, 9, 3, 15, tzinfo=UTC))
    (dividend,) = [d for d in market.dividends("MSFT", date(2024, 9, 3)) if d.ex_date == date(2024, 8, 15)]
    raw = intraday(simulator, "MSFT", "2024-08", adjusted="false")
    adjusted = intraday(simulator, "MSFT", "2024-08")
    close_before = raw["2024-08-14 15:55:00"]["close"]
    factor = 1 - dividend.amount / close_before
    assert adjusted["2024-08-14 10:00:00"]["close"] == (raw["2024-08-14 10:00:00"]["close"] * factor).quantize(
        market.TICK)
    assert adjusted["2024-08-15 10:00:00"] == raw["2024-08-15 10:00:00"]
