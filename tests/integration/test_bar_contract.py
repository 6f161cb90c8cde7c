"""The bar's layers agree (`market_pipeline.bars`: `Bar` and `RULES`): every message the fetch
could publish loads as it was sent; any other message loads or is quarantined with a reason;
and nothing the drain lets through breaks a constraint of the warehouse, which would fail the
drain on every retry."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from market_pipeline import warehouse
from market_pipeline.bars import SYMBOL_PATTERN, Bar
from market_pipeline.fetch.alphavantage import INTRADAY_INTERVALS
from market_pipeline.load.sink import BAR_COLUMNS, SOURCE_COLUMNS
from spark_apps.drain_bars_to_warehouse import parse_bar_messages

pytestmark = pytest.mark.integration
FIELDS = tuple(Bar.model_fields)
CHECKS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("999999999999.999999"), places=6)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0))


@st.composite
def publishable_bars(draw) -> Bar:
    """What the fetch's validation lets onto the bars topic."""
    low, open_, close, high = sorted(draw(st.lists(prices, min_size=4, max_size=4)))
    if draw(st.booleans()):
        open_, close = close, open_
    return Bar(symbol=draw(st.from_regex(SYMBOL_PATTERN, fullmatch=True)),
               interval=draw(st.sampled_from(INTRADAY_INTERVALS)), bar_time=draw(moments),
               open=open_, high=high, low=low, close=close, volume=draw(st.integers(0, 2**63 - 1)),
               fetched_at=draw(moments))


EDGES = [None, True, 0, -1, -0.5, 2**63, 1e30, "NaN", "Infinity", "-1", "0", "0.0000001", "1.1234567", "12.0",
         "1e3", "msft", "BRK.B", "2min", "Daily", "", "2026-11-24 14:30:00", "2026-11-24T14:30:00+05:00",
         "2026-02-30T14:30:00Z", "1999-12-31T23:59:59Z"]
junk = st.one_of(st.text(max_size=6), st.integers(-(2**70), 2**70), st.floats(), st.sampled_from(EDGES))
MISSING = object()


@st.composite
def any_messages(draw) -> bytes:
    """A publishable bar with some fields replaced by anything, or dropped."""
    message = json.loads(draw(publishable_bars()).to_message())
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        value = draw(st.one_of(junk, st.just(MISSING)))
        if value is MISSING:
            del message[name]
        else:
            message[name] = value
    return json.dumps(message).encode()


def edge_messages() -> list[bytes]:
    """Every field of a good bar set to every edge value, and left out, one at a time."""
    base = json.loads(Bar(symbol="MSFT", interval="5min", bar_time=datetime(2026, 11, 24, 14, 30, tzinfo=UTC),
                          open="100", high="101", low="99", close="100.5", volume=1200,
                          fetched_at=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)).to_message())
    messages = []
    for name in FIELDS:
        for value in [*EDGES, MISSING]:
            message = {key: v for key, v in base.items() if key != name or value is not MISSING}
            if value is not MISSING:
                message[name] = value
            messages.append(json.dumps(message).encode())
    return messages


def drain_parse(spark, values: list[bytes]) -> list:
    records = [("bars", 0, offset, b"KEY", value) for offset, value in enumerate(values)]
    frame = spark.createDataFrame(records, "topic string, partition int, offset long, key binary, value binary")
    return parse_bar_messages(frame, "dead-letter").orderBy("source_offset").collect()


@CHECKS
@given(st.lists(publishable_bars(), min_size=1, max_size=200))
def test_every_bar_the_fetch_can_publish_loads_as_sent(local_spark, bars):
    rows = drain_parse(local_spark, [bar.to_message() for bar in bars])
    for bar, row in zip(bars, rows, strict=True):
        assert row.reason is None, (bar, row.reason)
        loaded = {name: getattr(row, name) for name in FIELDS}
        loaded.update(bar_time=loaded["bar_time"].replace(tzinfo=UTC),
                      fetched_at=loaded["fetched_at"].replace(tzinfo=UTC))
        assert Bar(**loaded) == bar


@pytest.fixture(scope="module")
def migrated_warehouse(test_warehouse_uri) -> str:
    warehouse.apply_migrations(test_warehouse_uri)
    return test_warehouse_uri


INSERT_BAR = sql.SQL("INSERT INTO market.bars ({columns}) VALUES ({values})").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, BAR_COLUMNS)),
    values=sql.SQL(", ").join(sql.Placeholder(name) for name in BAR_COLUMNS))


def test_no_edge_value_the_drain_lets_through_breaks_the_contract(local_spark, migrated_warehouse):
    assert_drain_agrees(local_spark, migrated_warehouse, edge_messages())


@CHECKS
@given(st.lists(any_messages(), min_size=1, max_size=200))
def test_what_the_drain_lets_through_is_a_valid_bar_the_warehouse_accepts(local_spark, migrated_warehouse, values):
    assert_drain_agrees(local_spark, migrated_warehouse, values)


def assert_drain_agrees(spark, uri: str, values: list[bytes]) -> None:
    rows = drain_parse(spark, values)
    assert len(rows) == len(values), "every message is a row: loaded or quarantined"
    accepted = [row for row in rows if row.reason is None]
    for row in accepted:
        Bar(**{name: getattr(row, name) for name in FIELDS if name not in ("bar_time", "fetched_at")},
            bar_time=row.bar_time.replace(tzinfo=UTC), fetched_at=row.fetched_at.replace(tzinfo=UTC))
    with psycopg.connect(uri) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for index, row in enumerate(accepted):
            # A key of its own per row: only the constraints on values are under test.
            bar = {**{name: getattr(row, name) for name in BAR_COLUMNS},
                   "symbol": f"CONTRACT{index}", "bar_time": datetime(2000, 1, 1) + timedelta(minutes=index)}
            with conn.transaction(force_rollback=True):
                try:
                    conn.execute(INSERT_BAR, bar)
                except psycopg.errors.IntegrityError as exc:
                    pytest.fail(f"the drain let through a row the warehouse refuses: {row}: {exc}")
    rejected = [row for row in rows if row.reason is not None]
    assert all(row.raw_value is not None for row in rejected), "a quarantined record keeps its message"
    assert set(SOURCE_COLUMNS) <= set(rows[0].asDict())
