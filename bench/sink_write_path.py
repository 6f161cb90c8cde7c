"""Which write path the Spark sink uses, decided by measurement.

Writes the same N bars into a fresh warehouse schema three ways, against the
real Postgres of `bin/stack`, and prints rows/s for each:

- copy_upsert: the sink's path (market_pipeline.load.sink.ExactlyOnceSink.write):
  COPY into a temporary staging table, one INSERT ... ON CONFLICT, bookkeeping,
  one transaction;
- batched_upsert: row-wise INSERT ... ON CONFLICT sent in batches (psycopg
  executemany, pipelined), one transaction;
- spark_jdbc_upsert: Spark's JDBC writer (batchsize 10,000,
  reWriteBatchedInserts) into a staging table, then the same upsert. Spark's
  writer commits on its own, so this path cannot share the batch-id transaction.

Both run twice per repetition: into an empty table (inserts) and again
(every row conflicts and is updated).

Usage: bin/stack exec python bench/sink_write_path.py [--rows 200000] [--repeat 3]
The time to hand the rows to each path (Arrow table, Python tuples, a cached
Spark DataFrame) is not counted.
"""

from __future__ import annotations

import argparse
import glob
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote, urlsplit

import psycopg
import pyarrow as pa

from market_pipeline import warehouse
from market_pipeline.in_airflow import connections
from market_pipeline.load.sink import BAR_COLUMNS, ExactlyOnceSink, upsert_statement
from market_pipeline.settings import POSTGRES_JDBC_JARS

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
    warehouse.recreate(uri)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.stage_bars")  # the JDBC path's staging table


class CopyUpsert:
    name = "copy_upsert"

    def prepare(self, rows: pa.Table) -> pa.Table:
        return rows

    def write(self, uri: str, rows: pa.Table, batch_id: int) -> None:
        ExactlyOnceSink(uri, "bench").write(rows, batch_id)


class BatchedUpsert:
    name = "batched_upsert"

    def prepare(self, rows: pa.Table) -> list[tuple]:
        return list(zip(*(rows[name].to_pylist() for name in BAR_COLUMNS), strict=True))

    def write(self, uri: str, records: list[tuple], _: int) -> None:
        with warehouse.transaction(uri) as conn, conn.cursor() as cursor:
            cursor.executemany(BATCHED_UPSERT, records)


class SparkJdbcUpsert:
    name = "spark_jdbc_upsert"

    def __init__(self) -> None:
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[2]").appName("bench_sink_write_path")
            .config("spark.jars", ",".join(glob.glob(POSTGRES_JDBC_JARS)))
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )

    def prepare(self, rows: pa.Table):
        frame = self.spark.createDataFrame(rows.select(list(BAR_COLUMNS))).repartition(2).cache()
        frame.count()
        return frame

    def write(self, uri: str, frame, _: int) -> None:
        parts = urlsplit(uri)
        frame.write.jdbc(
            f"jdbc:postgresql://{parts.hostname}:{parts.port}{parts.path}", "public.stage_bars", mode="overwrite",
            properties={"user": parts.username, "password": unquote(parts.password or ""),
                        "driver": "org.postgresql.Driver", "batchsize": "10000", "truncate": "true",
                        "reWriteBatchedInserts": "true"},
        )
        # The named upsert reads `stage_bars`: here the JDBC-written table in public.
        with warehouse.transaction(uri) as conn:
            conn.execute(upsert_statement())

    def close(self) -> None:
        self.spark.stop()


def measure(path, uri: str, rows: pa.Table, repeat: int) -> dict[str, float]:
    data = path.prepare(rows)
    timings: dict[str, list[float]] = {"insert": [], "update": []}
    for attempt in range(repeat):
        reset(uri)
        for phase, batch_id in (("insert", 2 * attempt), ("update", 2 * attempt + 1)):
            started = time.perf_counter()
            path.write(uri, data, batch_id)
            timings[phase].append(time.perf_counter() - started)
    return {phase: rows.num_rows / statistics.median(seconds) for phase, seconds in timings.items()}


def main() -> None:
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    logging.getLogger("market_pipeline.load.sink").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-spark", action="store_true", help="leave out the Spark JDBC path (no JVM)")
    args = parser.parse_args()
    uri = warehouse.with_database(connections.warehouse_uri(), BENCH_DATABASE)
    rows = make_rows(args.rows)
    print(f"{args.rows} bars, median of {args.repeat} runs, rows/s")
    print(f"{'path':<18} {'insert':>10} {'update':>10}")
    paths = [CopyUpsert(), BatchedUpsert()] + ([] if args.skip_spark else [SparkJdbcUpsert()])
    for path in paths:
        result = measure(path, uri, rows, args.repeat)
        print(f"{path.name:<18} {result['insert']:>10.0f} {result['update']:>10.0f}", flush=True)
        if hasattr(path, "close"):
            path.close()


if __name__ == "__main__":
    main()
