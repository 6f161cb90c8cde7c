"""The adjusted series against values worked out by hand, across a dividend and a split.

SPL trades 2026-03-02 to 03-04 (three adjacent sessions, EST: 10:00 ET is 15:00 UTC). It goes ex
a 1.00 dividend on 03-03, after a last regular close of 100 on 03-02 (a post-market bar at 150
must not count), so the dividend factor is 1 - 1/100 = 0.99; it splits 2-for-1 on 03-04. As
traded: 100 (03-02), 99 (03-03: the price drops by the dividend), 49.5 (03-04: halved by the split).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from harness.warehouse import bars_snapshot, fetch_all
from market_pipeline import warehouse
from market_pipeline.fetch import corporate_actions
from market_pipeline.fetch.alphavantage import Dividend, Split
from tests.integration.reporting_fixture import copy_bars, utc

pytestmark = pytest.mark.integration

SPL_BARS = [
    ("2026-03-02 15:00", 100, 100, 100, 100, 10),   # 10:00 ET regular
    ("2026-03-02 21:30", 150, 150, 150, 150, 1),    # 16:30 ET post: not the close before the ex-date
    ("2026-03-03 15:00", 99, 99, 99, 99, 10),       # the ex-date
    ("2026-03-04 15:00", Decimal("49.5"), Decimal("49.5"), Decimal("49.5"), Decimal("49.5"), 20),  # the split
]
SPLIT = Split("SPL", date(2026, 3, 4), Decimal(2))
DIVIDEND = Dividend("SPL", date(2026, 3, 3), Decimal("1.00"), date(2026, 2, 10), date(2026, 3, 3), date(2026, 3, 20))


@pytest.fixture
def spl(fresh_warehouse: str) -> str:
    copy_bars(fresh_warehouse, [("SPL", utc(t), o, h, lo, c, v) for t, o, h, lo, c, v in SPL_BARS])
    warehouse.replace_corporate_actions(fresh_warehouse, "SPL", [SPLIT], [DIVIDEND], utc("2026-03-05 00:00"))
    warehouse.refresh_reporting(fresh_warehouse)
    return fresh_warehouse


def by_time(uri: str, sql: str) -> dict:
    return {f"{moment:%m-%d %H:%M}": rest for moment, *rest in fetch_all(uri, sql)}


def test_factors_cover_each_range_between_actions(spl):
    assert fetch_all(spl, "SELECT from_date, until_date, split_factor, dividend_factor"
                          " FROM reporting.adjustment_factors"
                          " WHERE symbol = 'SPL' AND interval = '5min' ORDER BY until_date") == [
        (None, date(2026, 3, 3), 2, Decimal("0.99")),
        (date(2026, 3, 3), date(2026, 3, 4), 2, 1),
    ]


def test_fact_bars_keep_the_raw_series_beside_the_split_and_total_return_series(spl):
    rows = by_time(spl, "SELECT bar_time_utc, close, volume, close_adj, volume_adj, close_tr FROM reporting.fact_bars"
                        " WHERE symbol = 'SPL' ORDER BY 1")
    assert rows == {
        "03-02 15:00": [100, 10, 50, 20, Decimal("49.5")],
        "03-02 21:30": [150, 1, 75, 2, Decimal("74.25")],
        "03-03 15:00": [99, 10, Decimal("49.5"), 20, Decimal("49.5")],
        "03-04 15:00": [Decimal("49.5"), 20, Decimal("49.5"), 20, Decimal("49.5")],
    }


def test_returns_and_averages_run_on_the_adjusted_series(spl):
    days = {day: rest for day, *rest in fetch_all(
        spl, "SELECT session_date, close, close_adj, close_tr, daily_return, price_return FROM reporting.daily_metrics"
             " WHERE symbol = 'SPL' ORDER BY 1")}
    assert days[date(2026, 3, 2)][:3] == [100, 50, Decimal("49.5")]
    # The ex-date: the price fell by the dividend (-1 %), the total return is nil.
    assert days[date(2026, 3, 3)][3] == pytest.approx(0) and days[date(2026, 3, 3)][4] == pytest.approx(-0.01)
    # The split day: as traded the close halved; adjusted, nothing happened.
    assert days[date(2026, 3, 4)][3] == pytest.approx(0) and days[date(2026, 3, 4)][4] == pytest.approx(0)
    bars = by_time(spl, "SELECT bar_time_utc, bar_return FROM reporting.bar_metrics WHERE symbol = 'SPL' ORDER BY 1")
    assert bars["03-03 15:00"][0] == pytest.approx(49.5 / 74.25 - 1), "from the post-market bar, total return"
    assert bars["03-04 15:00"][0] == pytest.approx(0), "the split moves the raw price only"
    daily = fetch_all(spl, "SELECT close, close_adj, volume, volume_adj, vwap, vwap_adj FROM reporting.daily_bars"
                           " WHERE symbol = 'SPL' AND hours = 'extended' AND session_date = '2026-03-02'")
    assert daily == [(150, 75, 11, 22, Decimal("104.545455"), Decimal("52.272727"))]


def test_an_action_learnt_after_its_bars_changes_only_the_adjusted_views(spl):
    bars_before = bars_snapshot(spl)
    # A 3-for-1 split of 2026-03-03 announced late, and the dividend revised to 2.00.
    revised = Dividend("SPL", date(2026, 3, 3), Decimal("2.00"), None, None, None)
    late = Split("SPL", date(2026, 3, 3), Decimal(3))
    assert warehouse.replace_corporate_actions(spl, "SPL", [late, SPLIT], [revised], utc("2026-03-06 00:00"))
    warehouse.refresh_reporting(spl)
    assert bars_snapshot(spl) == bars_before, "market.bars is as traded: an action never touches it"
    rows = by_time(spl, "SELECT bar_time_utc, close_adj, close_tr FROM reporting.fact_bars WHERE symbol = 'SPL'"
                        " ORDER BY 1")
    assert rows["03-02 15:00"] == [Decimal("16.666667"), Decimal("16.333333")]  # 100 / 6, then * 0.98
    assert rows["03-03 15:00"] == [Decimal("49.5"), Decimal("49.5")]
    assert fetch_all(spl, "SELECT amount, declaration_date FROM market.dividends WHERE symbol = 'SPL'") == [
        (Decimal("2.00"), None)], "the revision replaced the older version"

    # The same lists again change nothing; a withdrawn split disappears.
    assert not warehouse.replace_corporate_actions(spl, "SPL", [late, SPLIT], [revised], utc("2026-03-07 00:00"))
    assert warehouse.replace_corporate_actions(spl, "SPL", [SPLIT], [revised], utc("2026-03-07 00:00"))
    assert fetch_all(spl, "SELECT effective_date FROM market.splits WHERE symbol = 'SPL'") == [(date(2026, 3, 4),)]


def test_a_dividend_not_yet_ex_adjusts_nothing(fresh_warehouse):
    copy_bars(fresh_warehouse, [("SPL", utc(t), o, h, lo, c, v) for t, o, h, lo, c, v in SPL_BARS])
    declared = Dividend("SPL", date(2099, 1, 5), Decimal("1.00"), date(2098, 12, 1), None, None)
    warehouse.replace_corporate_actions(fresh_warehouse, "SPL", [], [declared], utc("2026-03-05 00:00"))
    warehouse.refresh_reporting(fresh_warehouse)
    assert fetch_all(fresh_warehouse, "SELECT count(*) FROM reporting.adjustment_factors") == [(0,)]
    assert fetch_all(fresh_warehouse, "SELECT DISTINCT close_tr = close FROM reporting.fact_bars") == [(True,)]


def test_a_split_sized_step_without_a_stored_split_is_reported_until_the_split_is_known(fresh_warehouse):
    copy_bars(fresh_warehouse, [("SPL", utc(t), o, h, lo, c, v) for t, o, h, lo, c, v in SPL_BARS])
    warehouse.refresh_reporting(fresh_warehouse)  # the steps are read from reporting.daily_bars
    since, step = date(2026, 3, 1), corporate_actions.SPLIT_SIZED_STEP
    # 03-03 opens 0.99x the last regular close (the dividend): ordinary; 03-04 0.5x: split-sized.
    assert warehouse.unexplained_price_jumps(fresh_warehouse, "5min", since, step) == {"SPL": date(2026, 3, 4)}
    assert warehouse.unexplained_price_jumps(fresh_warehouse, "5min", date(2026, 3, 5), step) == {}
    assert warehouse.unexplained_price_jumps(fresh_warehouse, "15min", since, step) == {}
    warehouse.replace_corporate_actions(fresh_warehouse, "SPL", [SPLIT], [], utc("2026-03-05 00:00"))
    assert warehouse.unexplained_price_jumps(fresh_warehouse, "5min", since, step) == {}
