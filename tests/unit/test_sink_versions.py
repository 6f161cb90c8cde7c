"""The sink keeps one version of each bar per batch: the latest fetch, then the later message."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from market_pipeline.load.sink import BAR_COLUMNS, latest_versions

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def bars(*versions) -> pa.Table:
    """versions: (symbol, minute, close, fetched minute, partition, offset)."""
    rows = [
        {"symbol": symbol, "interval": "5min", "bar_time": T0 + timedelta(minutes=minute),
         "open": Decimal("1"), "high": Decimal("9"), "low": Decimal("1"), "close": Decimal(close), "volume": 1,
         "fetched_at": T0 + timedelta(minutes=fetched), "source_topic": "bars", "source_partition": partition,
         "source_offset": offset}
        for symbol, minute, close, fetched, partition, offset in versions
    ]
    return pa.Table.from_pylist(rows).select(list(BAR_COLUMNS))


def test_the_latest_fetch_wins_then_the_later_message():
    batch = bars(
        ("MSFT", 0, "2", 10, 0, 5),   # superseded: fetched earlier
        ("MSFT", 0, "3", 20, 0, 1),   # latest fetch, although an earlier offset
        ("TSLA", 0, "4", 10, 1, 7),
        ("TSLA", 0, "5", 10, 1, 9),   # same fetch: the later message
        ("TSLA", 5, "6", 10, 1, 8),   # another bar of the same symbol
    )
    latest = latest_versions(batch)
    assert latest.column_names == batch.column_names and latest.schema == batch.schema
    closes = {(row["symbol"], row["bar_time"]): row["close"] for row in latest.to_pylist()}
    assert closes == {("MSFT", T0): Decimal("3"), ("TSLA", T0): Decimal("5"),
                      ("TSLA", T0 + timedelta(minutes=5)): Decimal("6")}


def test_a_batch_without_repeats_keeps_every_row():
    batch = bars(*[("GOOGL", minute, "2", 10, 0, minute) for minute in range(0, 50, 5)])
    assert latest_versions(batch).num_rows == batch.num_rows
