"""The market page's choices that need no server: which range it draws and how."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi import HTTPException

from market_pipeline.in_airflow.market_page import ChartRange, chart_range, duration, price_figure
from market_pipeline.reporting.price_basis import PriceBasis

SYMBOLS = [{"symbol": "MSFT", "last_bar_utc": datetime(2026, 11, 28, 1, 55, tzinfo=UTC)},  # 11-27 20:55 ET
           {"symbol": "NEW", "last_bar_utc": None}]


def candle(when: dict, traded: tuple, adjusted: tuple, **averages) -> dict:
    """A row of the page's price queries: open, high, low, close, volume on both bases."""
    names = ("open", "high", "low", "close", "volume")
    return {**when, **dict(zip(names, traded, strict=True)),
            **{f"{name}_adj": value for name, value in zip(names, adjusted, strict=True)}, **averages}


def test_the_default_range_is_the_first_symbol_s_last_days_in_us_eastern_dates_split_adjusted():
    assert chart_range(SYMBOLS, None, None, None) == ChartRange("MSFT", date(2026, 11, 22), date(2026, 11, 27),
                                                                PriceBasis.ADJUSTED)
    assert chart_range(SYMBOLS, "UNKNOWN", None, date(2026, 1, 9)).symbol == "MSFT"
    assert chart_range([], None, None, None) is None


def test_a_backwards_range_is_refused_with_its_dates():
    with pytest.raises(HTTPException, match="2026-11-27.*2026-11-01"):
        chart_range(SYMBOLS, "MSFT", date(2026, 11, 27), date(2026, 11, 1))


def test_short_ranges_are_intraday_long_ones_daily_with_day_averages():
    assert ChartRange("MSFT", date(2026, 11, 20), date(2026, 11, 29)).intraday
    daily = ChartRange("MSFT", date(2026, 11, 1), date(2026, 11, 30))
    assert not daily.intraday
    row = candle({"session_date": date(2026, 11, 27)}, (1, 2, 1, 2, 10), (1, 2, 1, 2, 10),
                 ma_20d=None, ma_50d=None, ma_200d=Decimal("1.5"))
    names = [trace.name for trace in price_figure(daily, [row]).data]
    assert names == ["MSFT (split-adjusted to the latest basis)", "MA 20 days", "MA 50 days", "MA 200 days",
                     "volume"]


def test_the_chart_draws_its_basis_and_names_it():
    # TSLA's last session before its 5-for-1 split, and its first after.
    rows = [candle({"bar_time_et": datetime(2020, 8, 28, 15, 55)}, (2200, 2215, 2195, 2210, 100),
                   (440, 443, 439, 442, 500), ma_20=Decimal(441), ma_50=None),
            candle({"bar_time_et": datetime(2020, 8, 31, 9, 30)}, (444, 446, 443, 445, 900),
                   (444, 446, 443, 445, 900), ma_20=Decimal(443), ma_50=None)]
    adjusted = price_figure(ChartRange("TSLA", date(2020, 8, 27), date(2020, 8, 31)), rows)
    candles = adjusted.data[0]
    assert list(candles.close) == [442, 445] and list(candles.open) == [440, 444], "no cliff at the split"
    assert list(adjusted.data[-1].y) == [500, 900], "volumes in post-split shares"
    assert adjusted.layout.yaxis.title.text == "price (USD, split-adjusted to the latest basis)"
    assert [trace.name for trace in adjusted.data][1:] == ["MA 20 bars", "MA 50 bars", "volume"]

    traded = price_figure(ChartRange("TSLA", date(2020, 8, 27), date(2020, 8, 31), PriceBasis.TRADED), rows)
    assert list(traded.data[0].close) == [2210, 445] and list(traded.data[-1].y) == [100, 900]
    assert traded.layout.yaxis.title.text == "price (USD, as traded)"
    assert [trace.name for trace in traded.data] == ["TSLA (as traded)", "volume"], \
        "the averages are of adjusted closes: not drawn over traded candles"


def test_ages_read_as_people_say_them():
    assert duration(timedelta(days=3, hours=5, minutes=36)) == "3 d 5 h"
    assert duration(timedelta(hours=12, minutes=31, seconds=32.6)) == "12 h 31 min"
    assert duration(timedelta(minutes=4, seconds=10)) == "4 min 10 s"
    assert duration(None) == "–"


def test_weekends_holidays_and_nights_leave_no_gap_on_the_time_axis():
    chart = ChartRange("MSFT", date(2026, 11, 25), date(2026, 11, 30))
    row = candle({"bar_time_et": datetime(2026, 11, 25, 9, 30)}, (1, 1, 1, 1, 1), (1, 1, 1, 1, 1),
                 ma_20=None, ma_50=None)
    breaks = [rangebreak.to_plotly_json() for rangebreak in price_figure(chart, [row]).layout.xaxis.rangebreaks]
    assert {"values": ["2026-11-26"]} in breaks, "Thanksgiving"
    assert {"bounds": ["sat", "mon"]} in breaks and {"bounds": [20, 4], "pattern": "hour"} in breaks
