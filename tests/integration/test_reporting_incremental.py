"""The incrementally maintained reporting tables equal a full recomputation from market.bars, row
for row, after every batch: live bars, revisions (a later fetch replaces the bar, an older one is
ignored), late bars, history months landing before or inside what is loaded, and corporate
actions changing between batches. Bars go through the sink's real write path (`ExactlyOnceSink`).

The full recomputation runs inside a transaction that is rolled back, so the incremental state
carries on from batch to batch as a drain's would. The formulas themselves are checked against
hand-worked values in test_reporting.py and test_reporting_adjusted.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.warehouse import fetch_all
from market_pipeline import warehouse
from market_pipeline.fetch.alphavantage import Dividend, Split
from market_pipeline.load.sink import ExactlyOnceSink
from market_pipeline.trading_calendar import EASTERN, trading_days

pytestmark = pytest.mark.integration

# 260 sessions: more than the 200-day average's look-back, so it fills and then moves.
SESSIONS = trading_days(date(2024, 1, 2), date(2025, 2, 28))[:260]
SYMBOLS = ("AAA", "BBB")
# Times of day (US/Eastern) a bar may start at: pre-market, regular hours, post-market.
SLOTS = (time(8, 0), time(9, 30), time(9, 35), time(12, 0), time(15, 55), time(16, 0))
REPORTING = {
    "bar_metrics": "symbol, interval, bar_time_utc",
    "daily_bars": "symbol, interval, session_date, hours",
    "daily_metrics": "symbol, interval, session_date",
    "dim_symbol": "symbol",
}
CHECKS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

bar_keys = st.tuples(st.sampled_from(SYMBOLS), st.integers(0, len(SESSIONS) - 1), st.integers(0, len(SLOTS) - 1))


@st.composite
def batches(draw) -> list[tuple]:
    """One batch: (symbol, session index, slot index, price, fetch version) rows."""
    if draw(st.booleans()):   # a history month of one symbol: every slot of ~21 sessions in a row
        symbol, first = draw(st.sampled_from(SYMBOLS)), draw(st.integers(0, len(SESSIONS) - 1))
        keys = [(symbol, session, slot) for session in range(first, min(first + 21, len(SESSIONS)))
                for slot in range(len(SLOTS))]
    else:                     # live bars, late bars and revisions, anywhere
        keys = draw(st.lists(bar_keys, min_size=1, max_size=12))
    version = draw(st.integers(0, 3))
    return [(*key, draw(st.integers(10, 60)), version) for key in keys]


@st.composite
def actions(draw) -> tuple[str, list[Split], list[Dividend]] | None:
    """None, or a symbol's corporate actions replaced before the batch."""
    if not draw(st.booleans()):
        return None
    symbol = draw(st.sampled_from(SYMBOLS))
    splits = [Split(symbol, SESSIONS[draw(st.integers(1, len(SESSIONS) - 1))], Decimal(draw(st.sampled_from((2, 3)))))
              for _ in range(draw(st.integers(0, 1)))]
    dividends = [Dividend(symbol, SESSIONS[draw(st.integers(1, len(SESSIONS) - 1))], Decimal("0.50"), None, None, None)
                 for _ in range(draw(st.integers(0, 1)))]
    return symbol, splits, dividends


def arrow_batch(rows: list[tuple], first_offset: int) -> pa.Table:
    """The Spark job's output columns for the rows, as the sink receives them."""
    starts = [datetime.combine(SESSIONS[session], SLOTS[slot], EASTERN).astimezone(UTC)
              for _, session, slot, _, _ in rows]
    price = pa.decimal128(18, 6)
    count = len(rows)
    return pa.table({
        "symbol": [symbol for symbol, *_ in rows],
        "interval": ["5min"] * count,
        "bar_time": pa.array(starts, pa.timestamp("us", "UTC")),
        "open": pa.array([Decimal(p) for *_, p, _ in rows], price),
        "high": pa.array([Decimal(p) + 1 for *_, p, _ in rows], price),
        "low": pa.array([Decimal(p) - 1 for *_, p, _ in rows], price),
        "close": pa.array([Decimal(p) + Decimal("0.5") for *_, p, _ in rows], price),
        "volume": pa.array([100 * p for *_, p, _ in rows], pa.int64()),
        "fetched_at": pa.array([datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=v) for *_, v in rows],
                               pa.timestamp("us", "UTC")),
        "source_topic": ["test"] * count,
        "source_partition": pa.array([0] * count, pa.int32()),
        "source_offset": pa.array(range(first_offset, first_offset + count), pa.int64()),
        "message_key": [symbol for symbol, *_ in rows],
        "raw_value": pa.array([None] * count, pa.string()),
        "reason": pa.array([None] * count, pa.string()),
    })


def reporting_rows(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {table: conn.execute(f"SELECT * FROM reporting.{table} ORDER BY {key}").fetchall()
            for table, key in REPORTING.items()}


def recomputed_from_every_bar(uri: str) -> dict[str, list[tuple]]:
    """The full rebuild's result, rolled back: the incremental state is left as it was."""
    with psycopg.connect(uri) as conn:
        conn.execute(warehouse.query("queue_whole_history"))
        conn.execute(warehouse.query("refresh_reporting"))
        rows = reporting_rows(conn)
        conn.rollback()
    return rows


@CHECKS
@given(steps=st.lists(st.tuples(actions(), batches()), min_size=1, max_size=5))
def test_incremental_reporting_equals_a_full_recomputation_after_every_batch(test_warehouse_uri, steps):
    uri = test_warehouse_uri
    warehouse.recreate(uri)
    sink, offset = ExactlyOnceSink(uri, "test_incremental"), 0
    for batch_id, (changed_actions, rows) in enumerate(steps):
        if changed_actions:
            warehouse.replace_corporate_actions(uri, *changed_actions, datetime(2025, 3, 1, tzinfo=UTC))
        sink.write(arrow_batch(rows, offset), batch_id)
        offset += len(rows)
        warehouse.refresh_reporting(uri)
        with psycopg.connect(uri) as conn:
            maintained = reporting_rows(conn)
        assert maintained == recomputed_from_every_bar(uri), f"after batch {batch_id}"
        assert fetch_all(uri, "SELECT count(*) FROM market.reporting_backlog") == [(0,)]
    assert maintained["bar_metrics"], "the batches loaded bars"


def test_a_rebuild_gives_what_the_incremental_refreshes_gave(fresh_warehouse):
    uri = fresh_warehouse
    sink = ExactlyOnceSink(uri, "test_incremental")
    month = [("AAA", session, slot, 20 + session % 7, 0) for session in range(40, 61) for slot in range(len(SLOTS))]
    later = [("AAA", session, 1, 30, 1) for session in range(0, 250, 10)]
    for batch_id, rows in enumerate([month, later]):
        sink.write(arrow_batch(rows, 1000 * batch_id), batch_id)
        warehouse.refresh_reporting(uri)
    with psycopg.connect(uri) as conn:
        maintained = reporting_rows(conn)
    warehouse.rebuild_reporting(uri)
    with psycopg.connect(uri) as conn:
        assert reporting_rows(conn) == maintained
    assert maintained["daily_metrics"][-1][-2] is None, "no 200 consecutive sessions: no 200-day average"
