"""Helpers of the integration tests: producing test bars, running the Spark job, reading the warehouse,
and sandboxed pipelines inside the running Airflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from market_pipeline import kafka_io, warehouse
from market_pipeline.airflow_api import AirflowApi
from market_pipeline.bars import Bar
from market_pipeline.config import RunTarget
from market_pipeline.quota import Ledger
from market_pipeline.settings import (
    CHECKPOINTS_DIR,
    CONFIG_VARIABLE,
    DRAIN_SPARK_CONF,
    SPARK_APPS_DIR,
    SPARK_KAFKA_JARS,
)
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server

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
            *(option for name, value in DRAIN_SPARK_CONF.items() for option in ("--conf", f"{name}={value}")),
            "--jars", SPARK_KAFKA_JARS, str(app),
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


@dataclass
class Sandbox:
    """A pipeline of its own inside the running Airflow: a simulator on a virtual clock, an API
    connection and key, config and ledger Variables, topics, a drain query and the tests'
    warehouse database, all named by one suffix; runs reach it through the DAGs' params."""

    api: AirflowApi
    simulator: AlphaVantageSimulator
    api_key: str
    warehouse_uri: str
    target: RunTarget

    def config(self) -> dict:
        return json.loads(self.api.call("GET", f"variables/{self.target.config_variable}")["value"])

    def set_config(self, **changes) -> None:
        self.api.call("PATCH", f"variables/{self.target.config_variable}",
                      json={"key": self.target.config_variable, "value": json.dumps({**self.config(), **changes})})

    def advance(self, delta: timedelta) -> None:
        """Move the simulator's clock and the runs' clock together."""
        self.simulator.clock.advance(delta)
        self.target = self.target.model_copy(
            update={"clock_offset_seconds": self.target.clock_offset_seconds + delta.total_seconds()})

    def ledger(self) -> Ledger:
        response = self.api.request("GET", f"variables/{self.target.ledger_variable}")
        return Ledger.model_validate_json(response.json()["value"]) if response.status_code == 200 else Ledger()


@contextmanager
def sandbox(api: AirflowApi, kafka_bootstrap: str, warehouse_uri: str, *, start: datetime,
            options: SimulatorOptions, **config_changes) -> Iterator[Sandbox]:
    suffix = uuid.uuid4().hex[:8]
    simulator = AlphaVantageSimulator(SimClock(start), options)
    server = make_server(simulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_key = f"SANDBOXKEY-{uuid.uuid4().hex}"
    target = RunTarget(
        config_variable=f"market_data_config_{suffix}", ledger_variable=f"quota_ledger_{suffix}",
        alphavantage_conn_id=f"alphavantage_{suffix}", warehouse_conn_id=f"warehouse_{suffix}",
        bars_topic=f"sandbox.bars.{suffix}", dead_letter_topic=f"sandbox.dead-letter.{suffix}",
        query_name=f"sandbox_{suffix}",
    )
    kafka_io.ensure_topics(kafka_bootstrap, {target.bars_topic: 3, target.dead_letter_topic: 1})
    warehouse.recreate(warehouse_uri)
    live_config = json.loads(api.call("GET", f"variables/{CONFIG_VARIABLE}")["value"])
    api.call("POST", "variables", json={"key": target.config_variable,
                                        "value": json.dumps({**live_config, **config_changes})})
    api.call("POST", "connections", json={
        "connection_id": target.alphavantage_conn_id, "conn_type": "http",
        "host": f"http://127.0.0.1:{server.server_address[1]}/query", "password": api_key})
    db = urlsplit(warehouse_uri)
    api.call("POST", "connections", json={
        "connection_id": target.warehouse_conn_id, "conn_type": "postgres", "host": db.hostname, "port": db.port,
        "login": db.username, "password": db.password, "schema": db.path.lstrip("/")})
    # Both clocks start at `start` now that the setup is done: a test that starts just before a
    # moment (a midnight) has all the time it planned for.
    simulator.clock = SimClock(start)
    target = target.model_copy(update={"clock_offset_seconds": (start - datetime.now(UTC)).total_seconds()})
    try:
        yield Sandbox(api, simulator, api_key, warehouse_uri, target)
    finally:
        for conn_id in (target.alphavantage_conn_id, target.warehouse_conn_id):
            api.request("DELETE", f"connections/{conn_id}")
        for key in (target.config_variable, target.ledger_variable):
            api.request("DELETE", f"variables/{key}")
        shutil.rmtree(CHECKPOINTS_DIR / target.query_name, ignore_errors=True)
        server.shutdown()
        server.server_close()


def run_dag(api: AirflowApi, dag_id: str, target: RunTarget) -> tuple[str, dict, dict]:
    """Trigger a run on the sandbox, ahead of the scheduled ones; wait for its end."""
    run_id = api.trigger(dag_id, conf=target.model_dump(mode="json"), ahead_of_schedule=True)
    api.unpause(dag_id)
    run = api.wait_for_run(dag_id, run_id, timeout_seconds=600)
    return run_id, run, api.task_states(dag_id, run_id)
