"""The Spark job's transform, called directly with a local session: Kafka-shaped rows in, typed rows out."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from spark_apps.drain_bars_to_warehouse import parse_bar_messages

DEAD_LETTER = "dead"
GOOD = {"symbol": "MSFT", "interval": "5min", "bar_time": "2026-11-24T14:30:00Z", "open": "100.5",
        "high": "101", "low": "100", "close": "100.75", "volume": 1200, "fetched_at": "2026-11-24T16:00:00Z"}


def parse(spark, *records):
    rows = [(topic, 0, offset, b"MSFT", None if value is None else value.encode())
            for offset, (topic, value) in enumerate(records)]
    frame = spark.createDataFrame(rows, "topic string, partition int, offset long, key binary, value binary")
    return parse_bar_messages(frame, DEAD_LETTER).orderBy("source_offset").collect()


def test_should_type_a_valid_bar_exactly(local_spark):
    [row] = parse(local_spark, ("bars", json.dumps(GOOD)))
    assert row.reason is None
    assert row.open == Decimal("100.500000") and row.volume == 1200
    assert row.bar_time.replace(tzinfo=UTC) == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert (row.source_topic, row.source_partition, row.source_offset) == ("bars", 0, 0)


def test_should_give_each_bad_record_its_reason_and_keep_it(local_spark):
    rows = parse(
        local_spark,
        ("bars", "{truncated"),
        ("bars", None),
        ("bars", json.dumps({**GOOD, "low": "-1"})),
        ("bars", json.dumps({**GOOD, "volume": "many"})),
        ("bars", json.dumps({**GOOD, "bar_time": "yesterday"})),
        ("bars", json.dumps({**GOOD, "symbol": "msft"})),
        ("bars", json.dumps({**GOOD, "interval": "2min"})),
        (DEAD_LETTER, json.dumps({"raw": {}, "reason": "low: Input should be greater than 0"})),
    )
    assert [row.reason for row in rows] == [
        "not a bar: unparseable JSON or no symbol",
        "empty message",
        "low is not positive",
        "volume missing or not an integer",
        "bar_time missing or not an ISO-8601 UTC timestamp",
        "symbol is not an upper-case ticker",
        "unknown interval",
        "rejected at fetch: low: Input should be greater than 0",
    ]
    assert rows[0].raw_value == "{truncated"
