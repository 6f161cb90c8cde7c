"""The bars topic grown between two drains on the test stack's Kafka, Spark Connect server and
Postgres: after the increase a symbol's new messages land in another partition than its old ones,
and the drain still loads every message once and keeps each bar's latest version."""

from datetime import datetime, timedelta

import pytest

from harness.bars import FETCHED_AT, make_bar, produce_bars
from harness.drain_job import DrainJob
from harness.warehouse import batches, fetch_all
from market_pipeline import kafka_io, warehouse
from market_pipeline.bars import Bar
from market_pipeline.in_airflow.connections import spark_connect_url

pytestmark = pytest.mark.integration

# librdkafka's default partitioner takes the key's CRC32 modulo the partitions: these symbols fill
# both partitions of 2 and all of 5, and all but MSFT change partition.
SYMBOLS = ("TSLA", "MSFT", "GOOGL", "AAPL", "IBM", "KO")
GROWN_TO = 5
REVISED_AT = FETCHED_AT + timedelta(hours=1)


def partitions_by_symbol(uri: str, fetched_at: datetime) -> dict[str, set[int]]:
    """The partitions the loaded bars of one fetch came from, per symbol."""
    found: dict[str, set[int]] = {}
    for symbol, partition in fetch_all(uri, "SELECT symbol, source_partition FROM market.bars "
                                            "WHERE fetched_at = %(fetched_at)s", {"fetched_at": fetched_at}):
        found.setdefault(symbol, set()).add(partition)
    return found


def test_a_partition_increase_between_drains_keeps_every_bar_once_and_its_latest_version(
        kafka_bootstrap, topics, fresh_warehouse, tmp_path):
    from market_pipeline.in_airflow.params import RunTarget
    from market_pipeline.in_airflow.tasks import backlog

    drain = DrainJob(kafka_bootstrap, topics, tmp_path / "checkpoint", fresh_warehouse,
                     spark_connect_url=spark_connect_url())
    produced: list[Bar] = []  # every message, in version order: a key's last one is its latest version

    def publish(bars: list[Bar]) -> None:
        produce_bars(kafka_bootstrap, topics["bars"], bars)
        produced.extend(bars)

    publish([make_bar(symbol, minute) for symbol in SYMBOLS for minute in (0, 5, 10)])
    first = drain.run()
    assert first.returncode == 0, first.stderr[-3000:]
    drained = len(produced)
    before = partitions_by_symbol(fresh_warehouse, FETCHED_AT)
    assert all(len(partitions) == 1 for partitions in before.values()), before

    # Published on 2 partitions but drained after the increase, in one batch with its revision.
    publish([make_bar(symbol, 15) for symbol in SYMBOLS])
    assert kafka_io.add_partitions(kafka_bootstrap, topics["bars"], GROWN_TO) == (2, GROWN_TO)
    publish([make_bar(symbol, minute, close=f"{110 + i}.00", fetched_at=REVISED_AT)
             for i, symbol in enumerate(SYMBOLS) for minute in (0, 15)]
            + [make_bar(symbol, 20, fetched_at=REVISED_AT) for symbol in SYMBOLS])
    # The backlog check counts a partition the warehouse never committed from as unread.
    target = RunTarget(bars_topic=topics["bars"], dead_letter_topic=topics["dead_letter"],
                       query_name=drain.query_name)
    behind = {p["partition"]: p["end_offset"] - p["committed_offset"] for p in backlog(target, fresh_warehouse)
              if p["topic"] == topics["bars"]}
    assert sorted(behind) == list(range(GROWN_TO)) and sum(behind.values()) == len(produced) - drained, behind
    second = drain.run()  # the same checkpoint
    assert second.returncode == 0, second.stderr[-3000:]

    after = partitions_by_symbol(fresh_warehouse, REVISED_AT)
    assert all(len(partitions) == 1 for partitions in after.values()), after
    assert {symbol for symbol in SYMBOLS if after[symbol] != before[symbol]}, "some symbol changed partition"

    latest = {(bar.symbol, bar.bar_time): bar.close for bar in produced}
    rows = fetch_all(fresh_warehouse, "SELECT symbol, bar_time, close FROM market.bars")
    assert len(rows) == len(latest), "every bar once"
    assert {(symbol, bar_time): close for symbol, bar_time, close in rows} == latest

    recorded = batches(fresh_warehouse, drain.query_name)
    assert sum(messages for _, _, messages in recorded) == len(produced), "each message committed once"
    ends = kafka_io.end_offsets({"bootstrap.servers": kafka_bootstrap}, [topics["bars"]])
    assert len(ends) == GROWN_TO and all(ends.values()), f"messages in every partition: {ends}"
    assert warehouse.committed_offsets(fresh_warehouse, drain.query_name) == ends
