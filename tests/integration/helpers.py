"""Helpers of the integration tests: producing test bars, running the Spark job, reading the warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from market_pipeline import kafka_io
from market_pipeline.bars import Bar
from market_pipeline.settings import SPARK_APPS_DIR, SPARK_KAFKA_JARS

DRAIN_APP = SPARK_APPS_DIR / "drain_bars_to_warehouse.py"
BASE_TIME = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
FETCHED_AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def make_bar(symbol: str, minute: int, close: str = "101.00", fetched_at: datetime = FETCHED_AT) -> Bar:
    close_value = Decimal(close)
    return Bar(
        symbol=symbol, interval="5min", bar_time=BASE_TIME + timedelta(minutes=minute),
        open=Decimal("100.00"), high=max(Decimal("102.00"), close_value), low=min(Decimal("99.00"), close_value),
        close=close_value, volume=1000 + minute, fetched_at=fetched_at,
    )


def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = kafka_io.make_producer({"bootstrap.servers": bootstrap})
    kafka_io.produce_all(producer, [kafka_io.Message(topic, key, value) for key, value in values])


def produce_bars(bootstrap: str, topic: str, bars: list[Bar]) -> None:
    produce(bootstrap, topic, [(bar.symbol.encode(), bar.to_message()) for bar in bars])


@dataclass
class DrainJob:
    bootstrap: str
    topics: dict[str, str]
    checkpoint: Path
    warehouse_uri: str
    query_name: str = "test_drain"
    max_offsets_per_trigger: int = 200_000

    def command(self, app: Path = DRAIN_APP) -> list[str]:
        return [
            str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]",
            "--conf", "spark.driver.memory=1g", "--jars", SPARK_KAFKA_JARS, str(app),
            "--bootstrap-servers", self.bootstrap,
            "--bars-topic", self.topics["bars"], "--dead-letter-topic", self.topics["dead_letter"],
            "--checkpoint", str(self.checkpoint), "--query-name", self.query_name,
            "--max-offsets-per-trigger", str(self.max_offsets_per_trigger),
        ]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "WAREHOUSE_URI": self.warehouse_uri, **extra}

    # Own process group: a kill reaches spark-submit's JVM and its Python driver, and nothing else.
    def run(self, app: Path = DRAIN_APP, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(app), env=self.env(**extra_env), capture_output=True, text=True,
                              timeout=300, start_new_session=True)

    def start(self, app: Path = DRAIN_APP, **extra_env: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(app), env=self.env(**extra_env), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fetch_all(uri: str, sql: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(sql, params or {}).fetchall()


def bars_snapshot(uri: str) -> list[tuple]:
    return fetch_all(uri, "SELECT symbol, interval, bar_time, open, high, low, close, volume, fetched_at "
                          "FROM market.bars ORDER BY symbol, interval, bar_time")


def batches(uri: str, query_name: str) -> list[tuple]:
    return fetch_all(uri, "SELECT batch_id, offset_ranges, messages FROM market.ingest_batches "
                          "WHERE query_name = %(q)s ORDER BY batch_id", {"q": query_name})


def raw(value: dict | str) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value)).encode()
