"""The reporting schema's numbers against values worked out by hand, on a small fixed data set:
a session each side of the March 2026 DST change, Thanksgiving week with its half day, and a
series of 200 consecutive sessions for the moving averages."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest

from market_pipeline import warehouse
from market_pipeline.fetch.live import fetch_state_rows
from market_pipeline.fetch.quota import Ledger
from market_pipeline.pipeline_config import QuotaConfig
from market_pipeline.trading_calendar import EASTERN, published_session, session_bounds, trading_days
from tests.integration.reporting_fixture import load_bars, utc, watchlist_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reporting(test_warehouse_uri: str) -> str:
    load_bars(test_warehouse_uri)
    return test_warehouse_uri


def select(uri: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(sql, params).fetchall()


def test_sessions_come_from_the_exchange_calendar_with_half_days_and_dst(reporting):
    rows = {row[0]: row[1:] for row in select(
        reporting, "SELECT session_date, regular_open_utc, regular_close_utc, regular_close_et, extended_close_utc,"
                   " published_at_utc, half_day FROM reporting.dim_trading_session"
                   " WHERE session_date BETWEEN '2026-03-06' AND '2026-03-09'"
                   " OR session_date BETWEEN '2026-11-25' AND '2026-11-27'")}
    assert sorted(rows) == [date(2026, 3, 6), date(2026, 3, 9), date(2026, 11, 25), date(2026, 11, 27)]
    assert rows[date(2026, 3, 6)][0] == utc("2026-03-06 14:30")   # 09:30 EST
    assert rows[date(2026, 3, 9)][0] == utc("2026-03-09 13:30")   # 09:30 EDT
    half_day = rows[date(2026, 11, 27)]
    assert half_day[1:] == (utc("2026-11-27 18:00"), time(13, 0), utc("2026-11-27 22:00"), utc("2026-11-27 22:30"),
                            True)
    assert rows[date(2026, 11, 25)][2] == time(16, 0) and rows[date(2026, 11, 25)][5] is False
    first, count = select(reporting, "SELECT min(session_date), count(*) FROM reporting.dim_trading_session")[0]
    assert first == date(2000, 1, 3) and count > 6900


def test_fact_bars_place_each_bar_in_its_session_and_part_across_dst_and_the_half_day(reporting):
    rows = select(reporting, "SELECT bar_time_utc, bar_time_et, session_date, session_part FROM reporting.fact_bars"
                             " WHERE symbol = 'TST' ORDER BY bar_time_utc")
    parts = [(f"{et:%m-%d %H:%M}", part) for _, et, _, part in rows]
    assert parts == [
        ("03-06 09:25", "pre"), ("03-06 09:30", "regular"), ("03-06 15:55", "regular"), ("03-06 16:00", "post"),
        ("03-09 09:25", "pre"), ("03-09 09:30", "regular"), ("03-09 15:55", "regular"), ("03-09 16:00", "post"),
        ("11-25 15:55", "regular"),
        ("11-27 09:30", "regular"), ("11-27 12:55", "regular"), ("11-27 13:00", "post"), ("11-27 16:55", "post"),
    ]
    assert {session for *_, session, _ in rows} == {date(2026, 3, 6), date(2026, 3, 9), date(2026, 11, 25),
                                                    date(2026, 11, 27)}


def test_daily_bars_regular_and_extended(reporting):
    rows = {(day, hours): rest for day, hours, *rest in select(
        reporting, "SELECT session_date, hours, open, high, low, close, volume, bars, vwap FROM reporting.daily_bars"
                   " WHERE symbol = 'TST'")}
    # 03-06 regular: the 09:30 and 15:55 bars. VWAP of typical prices (h+l+c)/3:
    # (32/3 * 100 + 35/3 * 300) / 400 = 13700 / 1200 = 11.416667
    assert rows[(date(2026, 3, 6), "regular")] == [10, 12, 10, 12, 400, 2, Decimal("11.416667")]
    # 03-06 extended adds 09:25 (typical 10, volume 100) and 16:00 (12, 50): 18500/3 / 550 = 11.212121
    assert rows[(date(2026, 3, 6), "extended")] == [10, 12, 10, 12, 550, 4, Decimal("11.212121")]
    # 03-09 regular: low 12 from the 09:30 bar; (38/3 * 200 + 39.7/3 * 100) / 300 = 11570 / 900 = 12.855556
    assert rows[(date(2026, 3, 9), "regular")] == [12, 14, 12, Decimal("13.2"), 300, 2, Decimal("12.855556")]
    # The half day: the 13:00 and 16:55 bars are post-market, so only extended sees them.
    assert rows[(date(2026, 11, 27), "regular")] == [20, 22, 20, 22, 200, 2, Decimal("21.166667")]  # (62/3+65/3)/2
    assert rows[(date(2026, 11, 27), "extended")] == [20, 23, 20, 23, 400, 4, Decimal("21.75")]  # (62+65+66+68)/3/4
    assert len(rows) == 8


def test_daily_returns_need_the_previous_session_and_realised_volatility_uses_regular_bars(reporting):
    rows = {day: rest for day, *rest in select(
        reporting, "SELECT session_date, close, daily_return, log_return, realised_volatility"
                   " FROM reporting.daily_metrics WHERE symbol = 'TST'")}
    assert rows[date(2026, 3, 6)][1:3] == [None, None], "no earlier session loaded"
    # Friday to Monday are adjacent sessions: 13.2 / 12 - 1
    assert rows[date(2026, 3, 9)][1] == pytest.approx(0.1) and rows[date(2026, 3, 9)][2] == pytest.approx(math.log(1.1))
    assert rows[date(2026, 11, 25)][1] is None, "2026-03-09 is not the session before: a gap, not a return"
    # Thanksgiving is closed, so Wednesday is the session before the half day: 22 / 20 - 1
    assert rows[date(2026, 11, 27)][1] == pytest.approx(0.1)
    # One log return between the two regular bars of each session.
    assert rows[date(2026, 3, 6)][3] == pytest.approx(math.log(12 / 11))
    assert rows[date(2026, 3, 9)][3] == pytest.approx(math.log(13.2 / 13))
    assert rows[date(2026, 11, 25)][3] is None, "one regular bar: no return to measure"


def test_day_moving_averages_need_that_many_consecutive_sessions(reporting):
    rows = select(reporting, "SELECT close, ma_20d, ma_50d, ma_200d FROM reporting.daily_metrics"
                             " WHERE symbol = 'AVG' ORDER BY session_date")
    by_close = {int(close): rest for close, *rest in rows}
    assert len(rows) == 200
    assert by_close[19] == [None, None, None]
    assert by_close[20] == [Decimal("10.5"), None, None]              # mean of 1..20
    assert by_close[50] == [Decimal("40.5"), Decimal("25.5"), None]   # 31..50, 1..50
    assert by_close[199][2] is None
    assert by_close[200] == [Decimal("190.5"), Decimal("175.5"), Decimal("100.5")]  # 181..200, 151..200, 1..200


def test_period_moving_averages_and_session_vwap_per_bar(reporting):
    avg = {int(close): (ma20, ma50) for close, ma20, ma50 in select(
        reporting, "SELECT close, ma_20, ma_50 FROM reporting.bar_metrics WHERE symbol = 'AVG'")}
    assert avg[19] == (None, None) and avg[20] == (Decimal("10.5"), None) and avg[60] == (Decimal("50.5"),
                                                                                         Decimal("35.5"))
    tst = {f"{et:%m-%d %H:%M}": rest for et, *rest in select(
        reporting, "SELECT bar_time_et, bar_return, session_vwap FROM reporting.bar_metrics WHERE symbol = 'TST'")}
    assert tst["03-09 09:30"][0] == pytest.approx(13 / 12 - 1)
    assert tst["03-09 09:30"][1] == Decimal("12.666667")   # 38/3, the session's first regular bar
    assert tst["03-09 15:55"][1] == Decimal("12.855556")   # the whole regular session, as in daily_bars
    assert tst["03-09 09:25"][1] is None and tst["03-09 16:00"][1] is None, "regular hours only"


def test_dim_symbol_counts_bars_and_lists_the_watchlist(reporting):
    config = watchlist_config("TST", "NEW")
    warehouse.record_fetch_state(reporting, fetch_state_rows(config, Ledger(), datetime.now(UTC)))
    warehouse.refresh_reporting(reporting)
    rows = {symbol: rest for symbol, *rest in select(
        reporting, "SELECT symbol, first_bar_utc, last_bar_utc, bars_loaded, days_loaded, on_watchlist"
                   " FROM reporting.dim_symbol")}
    assert rows["TST"] == [utc("2026-03-06 14:25"), utc("2026-11-27 21:55"), 13, 4, True]
    assert rows["NEW"] == [None, None, 0, 0, True]
    assert rows["AVG"][2:] == [200, 200, False]


def newest_bar_of(session: date) -> datetime:
    return session_bounds(session, extended_hours=True)[1] - timedelta(minutes=5)


def test_freshness_follows_the_entitlement_and_ignores_flagged_symbols(reporting):
    now = datetime.now(UTC)
    published = published_session(now)
    config = watchlist_config("TST", "NEW", "BAD", "TOP")
    ledger = Ledger()
    ledger.symbol("BAD").flagged = "Invalid API call"
    warehouse.record_fetch_state(reporting, fetch_state_rows(config, ledger, now))
    with warehouse.transaction(reporting) as conn:  # TOP holds every bar of the published session
        conn.execute("INSERT INTO market.bars (symbol, interval, bar_time, open, high, low, close, volume, fetched_at,"
                     " source_topic, source_partition, source_offset) VALUES ('TOP', '5min', %s, 1, 1, 1, 1, 1, now(),"
                     " 'fixture', 1, 0)", (newest_bar_of(published),))
    rows = {symbol: rest for symbol, *rest in select(
        reporting, "SELECT symbol, newest_bar_utc, extract(epoch FROM age)::float8, visible_until_utc,"
                   " bars_expected, flagged FROM reporting.freshness")}
    visible = session_bounds(published, extended_hours=True)[1]
    assert rows["TST"][0] == utc("2026-11-27 21:55") and rows["TST"][2:4] == [visible, True], "a later session is out"
    assert rows["TST"][1] == pytest.approx((now - utc("2026-11-27 21:55")).total_seconds(), abs=60)
    assert rows["TOP"][2:4] == [visible, False], "every published bar is loaded"
    assert rows["NEW"][0] is None and rows["NEW"][3] is True
    assert rows["BAD"][3:] == [False, "Invalid API call"]

    realtime = config.model_copy(update={"entitlement": "realtime", "watchlist": ["TOP"]})
    warehouse.record_fetch_state(reporting, fetch_state_rows(realtime, Ledger(), now))
    (visible_until, expected), = select(reporting, "SELECT visible_until_utc, bars_expected FROM reporting.freshness")
    opened = [day for day in trading_days(published, now.astimezone(EASTERN).date())
              if session_bounds(day, extended_hours=True)[0] < now][-1]
    close = session_bounds(opened, extended_hours=True)[1]
    assert visible_until == pytest.approx(min(close, datetime.now(UTC)), abs=timedelta(seconds=60))
    assert expected is (opened != published or now < close), "a session in progress or one not loaded"


def test_quota_per_day_and_today_from_the_call_log(reporting):
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    calls = [(yesterday, "ok", 100), (yesterday, "ok", 100), (yesterday, "rate_limited", None),
             (now, "ok", 50), (now, "server_error", None), (now, "invalid_call", None)]
    warehouse.record_api_calls(reporting, {"dag_id": "d", "run_id": "r", "try_number": 1}, [
        {"requested_at": at, "function": "TIME_SERIES_INTRADAY", "symbol": "TST", "month": None,
         "entitlement": "none", "outcome": outcome, "http_status": 200, "bars": bars} for at, outcome, bars in calls])
    days = {day: rest for day, *rest in select(
        reporting, "SELECT quota_day, requests, ok, throttled, failed, bars FROM reporting.api_quota_daily")}
    assert days[yesterday.date()] == [3, 2, 1, 0, 200]
    assert days[now.date()] == [3, 1, 0, 2, 50]
    config = watchlist_config("TST")
    warehouse.record_fetch_state(reporting, fetch_state_rows(config, Ledger(), now))
    assert select(reporting, "SELECT requests_used, requests_per_day, requests_left FROM reporting.api_quota_today") \
        == [(3, 25, 22)]
    premium = config.model_copy(update={"quota": QuotaConfig(per_day=None, per_minute=75, per_second=5)})
    warehouse.record_fetch_state(reporting, fetch_state_rows(premium, Ledger(), now))
    assert select(reporting, "SELECT requests_used, requests_per_day, requests_left FROM reporting.api_quota_today") \
        == [(3, None, None)], "no daily cap: nothing is left or spent against one"


def test_kafka_lag_as_the_backlog_check_saw_it_and_what_drains_loaded_since(reporting):
    checked_at = datetime.now(UTC)
    warehouse.record_topic_lag(reporting, [
        {"query_name": "q", "topic": "bars", "partition": p, "end_offset": end, "committed_offset": committed,
         "checked_at": checked_at} for p, end, committed in ((0, 10, 4), (1, 8, 8))])
    with warehouse.transaction(reporting) as conn:  # a drain committed partition 0 up to 7 since
        conn.execute(warehouse.query("advance_offset"),
                     {"query_name": "q", "topic": "bars", "partition": 0, "next_offset": 7})
    assert select(reporting, "SELECT partition, lag_at_check, still_unloaded FROM reporting.kafka_lag"
                             " ORDER BY partition") == [(0, 6, 3), (1, 0, 0)]


def test_latest_quarantine_entries_come_newest_first(reporting):
    with warehouse.transaction(reporting) as conn:
        for offset, reason in enumerate(("high below open", "no time zone", "unknown interval")):
            conn.execute("INSERT INTO market.quarantine (source_topic, source_partition, source_offset, message_key,"
                         " raw_value, reason, quarantined_at) VALUES ('bars', 0, %s, 'TST', %s, %s,"
                         " now() + make_interval(secs => %s))", (offset, "x" * 5000, reason, offset))
    rows = warehouse.read(reporting, "reporting_latest_quarantine", {"limit": 2})
    assert [row["reason"] for row in rows] == ["unknown interval", "no time zone"]
    assert select(reporting, "SELECT max(length(raw_value)) FROM reporting.quarantine") == [(1000,)]


def test_every_reporting_view_is_commented(reporting):
    assert select(reporting, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'reporting' AND c.relkind IN ('v', 'm') AND obj_description(c.oid, 'pg_class') IS NULL
    """) == []


def test_freshness_shows_the_watchdog_s_last_verdict(reporting):
    now = datetime.now(UTC)
    config = watchlist_config("TST", "NEW")
    warehouse.record_fetch_state(reporting, fetch_state_rows(config, Ledger(), now))
    warehouse.record_freshness(reporting, [{"symbol": "TST", "checked_at": now, "newest_bar": utc("2026-11-27 21:55"),
                                            "bars_expected": True, "stale": True, "reason": "not loaded"}])
    assert select(reporting, "SELECT symbol, watchdog_stale, watchdog_reason FROM reporting.freshness"
                             " ORDER BY symbol") == [("NEW", None, None), ("TST", True, "not loaded")]


def test_latest_bars_are_each_series_newest_in_time_order(reporting):
    expected = select(reporting, """
        SELECT symbol, interval, bar_time, open, high, low, close, volume
        FROM (SELECT b.*, row_number() OVER (PARTITION BY symbol, interval ORDER BY bar_time DESC) AS rank
              FROM market.bars AS b) AS ranked
        WHERE rank <= 3 ORDER BY symbol, interval, bar_time""")
    assert {symbol for symbol, *_ in expected} >= {"TST", "AVG"}
    assert warehouse.latest_bars(reporting, per_symbol=3) == expected
