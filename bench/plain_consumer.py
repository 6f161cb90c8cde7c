"""The baseline the drain is compared with: a plain confluent-kafka consumer and the sink's SQL.

Reads the bars and dead-letter topics from the beginning up to the end offsets
it finds at start (what Trigger.AvailableNow reads), in batches of the drain's
`--max-offsets-per-trigger`, and writes each batch in one transaction, committed
as the sink commits it (`market_pipeline.load.sink.commit_batch`: staging, COPY, the
upsert, the batch record and the offsets). A batch is parsed by Arrow's JSON
reader and keeps each bar's latest version with the sink's `latest_versions`
(ON CONFLICT touches a row once). It validates nothing beyond JSON: the drain's
validation is part of what the comparison prices. Importing the sink imports
pyspark (a part of this process's start-up, not of its steady state).

Usage (the benchmark launches it; the warehouse URI comes from WAREHOUSE_URI):
    python -m bench.plain_consumer --bootstrap-servers HOST:PORT --bars-topic T
        --dead-letter-topic T --query-name NAME --max-offsets-per-trigger N
"""

from __future__ import annotations

import argparse
import io
import os
import uuid

import pyarrow as pa
import pyarrow.json as pajson
from confluent_kafka import Consumer, KafkaException, TopicPartition

from market_pipeline import kafka_io, warehouse
from market_pipeline.bars import Bar
from market_pipeline.load.sink import (
    BAR_COLUMNS,
    QUARANTINE_COLUMNS,
    batch_offset_ranges,
    commit_batch,
    latest_versions,
)

# The message's fields are the bar's contract, all read as text (PostgreSQL casts them in COPY)
# but the volume; the staged columns, the choice of a bar's latest version and the upsert are
# the sink's own.
MESSAGE_SCHEMA = pa.schema([(name, pa.int64() if name == "volume" else pa.string()) for name in Bar.model_fields])
POLL_AT_MOST = 10_000
# The baseline validates nothing, so it quarantines nothing.
NO_QUARANTINE = pa.table({name: pa.array([], pa.string()) for name in QUARANTINE_COLUMNS})
POLL_TIMEOUT_SECONDS = 30.0


def _bars(messages: list) -> pa.Table:
    """The batch as the sink's staged columns, read by Arrow's JSON reader (one message a line)."""
    values = pajson.read_json(io.BytesIO(b"\n".join(message.value() for message in messages)),
                              parse_options=pajson.ParseOptions(explicit_schema=MESSAGE_SCHEMA))
    sources = {
        "source_topic": pa.array([message.topic() for message in messages], pa.string()),
        "source_partition": pa.array([message.partition() for message in messages], pa.int32()),
        "source_offset": pa.array([message.offset() for message in messages], pa.int64()),
    }
    return pa.table({**{name: values[name] for name in MESSAGE_SCHEMA.names}, **sources}).select(list(BAR_COLUMNS))


def write_batch(uri: str, query_name: str, batch_id: int, messages: list) -> int:
    """One batch, one transaction, committed as the sink commits it; returns the bars upserted."""
    bars = _bars(messages)
    with warehouse.transaction(uri, application_name=query_name) as conn:
        return commit_batch(conn, query_name, batch_id, batch_offset_ranges(bars), len(messages),
                            latest_versions(bars), NO_QUARANTINE)


def drain(bootstrap: str, topics: list[str], uri: str, query_name: str, batch_size: int) -> int:
    """Everything the topics hold now, in batches; returns the batches written."""
    config = {"bootstrap.servers": bootstrap}
    ends = kafka_io.end_offsets(config, topics)
    consumer = Consumer({**config, "group.id": f"bench-plain-{uuid.uuid4().hex}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0) for (topic, partition), end in ends.items() if end > 0])
    remaining, batch_id = sum(ends.values()), 0
    try:
        while remaining:
            batch: list = []
            wanted = min(batch_size, remaining)
            while len(batch) < wanted:
                messages = consumer.consume(min(POLL_AT_MOST, wanted - len(batch)), timeout=POLL_TIMEOUT_SECONDS)
                if not messages:
                    raise RuntimeError(f"no message within {POLL_TIMEOUT_SECONDS} s, {remaining} still expected")
                for message in messages:
                    if message.error() is not None:
                        raise KafkaException(message.error())
                batch.extend(messages)
            write_batch(uri, query_name, batch_id, batch)
            remaining -= len(batch)
            batch_id += 1
    finally:
        consumer.close()
    return batch_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--bars-topic", required=True)
    parser.add_argument("--dead-letter-topic", required=True)
    parser.add_argument("--query-name", required=True)
    parser.add_argument("--max-offsets-per-trigger", type=int, required=True)
    args = parser.parse_args()
    uri = os.environ.get("WAREHOUSE_URI")
    if not uri:
        raise SystemExit("WAREHOUSE_URI is not set")
    batches = drain(args.bootstrap_servers, [args.bars_topic, args.dead_letter_topic], uri, args.query_name,
                    args.max_offsets_per_trigger)
    print(f"{batches} batches written")


if __name__ == "__main__":
    main()
