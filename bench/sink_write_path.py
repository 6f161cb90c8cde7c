"""Which write path the Spark sink uses, decided by measurement.

Writes the same N bars into a fresh warehouse schema two ways, against the real
Postgres of `bin/stack`, and prints rows/s for each:

- copy_upsert: the sink's path (market_pipeline.sink.ExactlyOnceSink.write):
  COPY into a temporary staging table, one INSERT ... ON CONFLICT, bookkeeping,
  one transaction;
- batched_upsert: what JDBC batching does, row-wise INSERT ... ON CONFLICT sent
  in batches (psycopg executemany, pipelined), one transaction.

Both run twice per repetition: into an empty table (inserts) and again
(every row conflicts and is updated).

Usage: bin/stack exec python bench/sink_write_path.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa

from market_pipeline import warehouse
from market_pipeline.sink import ExactlyOnceSink

BENCH_DATABASE = "market_data_bench"
BATCHED_UPSERT = """
INSERT INTO market.bars AS b (symbol, interval, bar_time, open, high, low, close, volume, fetched_at,
                              source_topic, source_partition, source_offset)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (symbol, interval, bar_time) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, fetched_at = EXCLUDED.fetched_at, source_topic = EXCLUDED.source_topic,
    source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset, loaded_at = now()
WHERE b.fetched_at <= EXCLUDED.fetched_at
"""


def make_rows(count: int) -> pa.Table:
    """`count` distinct bars shaped like the Spark job's output."""
    start = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)
    symbols = ["TSLA", "MSFT", "GOOGL", "AAPL"]
    price = pa.decimal128(18, 6)
    n = range(count)
    return pa.table({
        "symbol": [symbols[i % 4] for i in n],
        "interval": ["5min"] * count,
        "bar_time": pa.array([start + timedelta(minutes=5 * (i // 4)) for i in n], pa.timestamp("us", "UTC")),
        "open": pa.array([Decimal("100.25")] * count, price),
        "high": pa.array([Decimal("101.50")] * count, price),
        "low": pa.array([Decimal("99.75")] * count, price),
        "close": pa.array([Decimal("100.75")] * count, price),
        "volume": pa.array([1000 + i for i in n], pa.int64()),
        "fetched_at": pa.array([start] * count, pa.timestamp("us", "UTC")),
        "source_topic": ["bench"] * count,
        "source_partition": pa.array([i % 3 for i in n], pa.int32()),
        "source_offset": pa.array(list(n), pa.int64()),
        "message_key": [symbols[i % 4] for i in n],
        "raw_value": [None] * count,
        "reason": pa.array([None] * count, pa.string()),
    })


def reset(uri: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS market CASCADE")
        conn.execute("DROP TABLE IF EXISTS public._yoyo_migration, public._yoyo_log, public._yoyo_version, "
                     "public.yoyo_lock")
    warehouse.apply_migrations(uri)


def copy_upsert(uri: str, rows: pa.Table, batch_id: int) -> None:
    ExactlyOnceSink(uri, "bench").write(rows, batch_id)


def batched_upsert(uri: str, rows: pa.Table, _: int) -> None:
    columns = ["symbol", "interval", "bar_time", "open", "high", "low", "close", "volume", "fetched_at",
               "source_topic", "source_partition", "source_offset"]
    records = list(zip(*(rows[name].to_pylist() for name in columns), strict=True))
    with warehouse.transaction(uri) as conn, conn.cursor() as cursor:
        cursor.executemany(BATCHED_UPSERT, records)


def measure(path, uri: str, rows: pa.Table, repeat: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {"insert": [], "update": []}
    for attempt in range(repeat):
        reset(uri)
        for phase, batch_id in (("insert", 2 * attempt), ("update", 2 * attempt + 1)):
            started = time.perf_counter()
            path(uri, rows, batch_id)
            timings[phase].append(time.perf_counter() - started)
    return {phase: rows.num_rows / statistics.median(seconds) for phase, seconds in timings.items()}


def main() -> None:
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    logging.getLogger("market_pipeline.sink").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    uri = urlunsplit(urlsplit(warehouse.warehouse_uri())._replace(path=f"/{BENCH_DATABASE}"))
    rows = make_rows(args.rows)
    print(f"{args.rows} bars, median of {args.repeat} runs, rows/s")
    print(f"{'path':<16} {'insert':>10} {'update':>10}")
    for path in (copy_upsert, batched_upsert):
        result = measure(path, uri, rows, args.repeat)
        print(f"{path.__name__:<16} {result['insert']:>10.0f} {result['update']:>10.0f}")


if __name__ == "__main__":
    main()
