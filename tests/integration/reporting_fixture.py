"""A small fixed data set for the reporting layer, its values worked out by hand in
test_reporting.py: a session each side of the March 2026 DST change, Thanksgiving week with its
half day, and 200 consecutive sessions for the moving averages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from market_pipeline import warehouse
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.trading_calendar import EASTERN, trading_days


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (bar start UTC, open, high, low, close, volume) of the symbol TST.
TST_BARS = [
    # Fri 2026-03-06, EST (UTC-5): the regular session opens 14:30 UTC.
    ("2026-03-06 14:25", 10, 10, 10, 10, 100),   # 09:25 ET pre
    ("2026-03-06 14:30", 10, 11, 10, 11, 100),   # 09:30 ET regular
    ("2026-03-06 20:55", 11, 12, 11, 12, 300),   # 15:55 ET regular
    ("2026-03-06 21:00", 12, 12, 12, 12, 50),    # 16:00 ET post
    # Mon 2026-03-09, EDT (UTC-4) since Sunday: the same wall-clock times are an hour earlier in UTC.
    ("2026-03-09 13:25", 12, 12, 12, 12, 10),    # 09:25 ET pre
    ("2026-03-09 13:30", 12, 13, 12, 13, 200),   # 09:30 ET regular (08:30, pre, at the EST offset)
    ("2026-03-09 19:55", 13, 14, Decimal("12.5"), Decimal("13.2"), 100),  # 15:55 ET regular
    ("2026-03-09 20:00", Decimal("13.2"), Decimal("13.2"), 13, 13, 20),   # 16:00 ET post (regular at EST)
    # Wed 2026-11-25, EST; Thursday is Thanksgiving (closed).
    ("2026-11-25 20:55", 19, 20, 19, 20, 100),   # 15:55 ET regular
    # Fri 2026-11-27, a half day: regular 09:30-13:00, post-market to 17:00.
    ("2026-11-27 14:30", 20, 21, 20, 21, 100),   # 09:30 ET regular
    ("2026-11-27 17:55", 21, 22, 21, 22, 100),   # 12:55 ET regular
    ("2026-11-27 18:00", 22, 22, 22, 22, 100),   # 13:00 ET post (regular on a full day)
    ("2026-11-27 21:55", 22, 23, 22, 23, 100),   # 16:55 ET post, the half day's last bar
]
# AVG: one regular-hours bar (10:00 ET) on each of 200 consecutive sessions, close = 1, 2, ... 200.
AVG_SESSIONS = trading_days(date(2026, 2, 1), date(2026, 11, 30))[-200:]


def avg_bars():
    for number, day in enumerate(AVG_SESSIONS, start=1):
        start = datetime.combine(day, time(10, 0), EASTERN).astimezone(UTC)
        yield "AVG", start, number, number, number, number, 10


def load_bars(uri: str) -> None:
    """An empty warehouse holding the TST and AVG bars, reporting views refreshed."""
    warehouse.recreate(uri)
    copy_bars(uri, [("TST", utc(t), o, h, lo, c, v) for t, o, h, lo, c, v in TST_BARS] + list(avg_bars()))
    warehouse.refresh_reporting(uri)


def copy_bars(uri: str, rows: list[tuple]) -> None:
    """Write (symbol, start UTC, open, high, low, close, volume) rows as 5-minute bars."""
    with warehouse.transaction(uri) as conn:
        with conn.cursor().copy("COPY market.bars (symbol, interval, bar_time, open, high, low, close, volume,"
                                " fetched_at, source_topic, source_partition, source_offset) FROM STDIN") as copy:
            for offset, (symbol, start, o, h, lo, c, v) in enumerate(rows):
                copy.write_row((symbol, "5min", start, o, h, lo, c, v, start, "fixture", 0, offset))


def watchlist_config(*symbols: str) -> PipelineConfig:
    """A free key's config (entitlement none, 25 requests a day) watching `symbols`."""
    return PipelineConfig(watchlist=list(symbols), interval="5min", outputsize="compact", extended_hours=True,
                          entitlement="none", fetch_when_closed=False,
                          quota=QuotaConfig(per_day=25, per_minute=None, per_second=1), max_offsets_per_trigger=10)
