"""Shared fixtures.

Unit tests need nothing running.  Integration tests (marked `integration`) use
the test stack that `bin/stack test` starts beside the live one (its own Airflow,
Kafka, PostgreSQL and simulator, on ports of its own) and its AIRFLOW_CONN_*
variables; they refuse to run on the live stack. Each builds its own topics and
uses a separate test database (`market_data_test`; each group of `bin/stack test`
has its own).

`bin/stack test` runs the `live_dag`, `history_dag` and other integration tests
at once. So no test leaves market_bars_pipeline paused (another group's run
queued on it would wait for good), and the scheduler drill (`disrupts_stack`)
runs alone afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from market_pipeline import warehouse
from market_pipeline.in_airflow import connections
from market_pipeline.settings import STACK
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server

# A trading Tuesday at 11:00 US/Eastern (16:00 UTC), well inside the regular session.
TRADING_MORNING = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
TEST_API_KEY = "TESTKEY-7f3a9c1e"
# The tests' warehouse database, rebuilt by them at will: `bin/stack test` runs its groups of
# integration tests at once, each on a database of its own (include/sql/bootstrap creates three).
TEST_DATABASE = os.environ.get("STOCKPIPE_TEST_DATABASE", "market_data_test")


@dataclass
class RunningSimulator:
    simulator: AlphaVantageSimulator
    base_url: str


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """An in-process simulator on a free port, clock at TRADING_MORNING, limits off unless a test sets them."""
    sim = AlphaVantageSimulator(
        SimClock(TRADING_MORNING),
        SimulatorOptions(per_second=None, per_minute=None, per_day=None, key_entitlement="realtime"),
    )
    server = make_server(sim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningSimulator(sim, f"http://127.0.0.1:{server.server_address[1]}/query")
    finally:
        server.shutdown()
        server.server_close()


def _require_env(name: str) -> str:
    if STACK != "test":
        pytest.fail(f"integration tests run on the test stack, not the {STACK} one: run them with `bin/stack test`")
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with `bin/stack test`, which starts the services")
    return value


@pytest.fixture(scope="session")
def local_spark():
    """A local Spark session for calling the drain's transform directly."""
    import logging

    from pyspark.sql import SparkSession

    # py4j logs from its finalizers after pytest has closed the captured streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = (
        SparkSession.builder.master("local[1]").appName("tests")
        .config("spark.sql.shuffle.partitions", "1").config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC").getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    from market_pipeline.in_airflow.connections import kafka_config

    _require_env("AIRFLOW_CONN_KAFKA_DEFAULT")
    return kafka_config()["bootstrap.servers"]


@pytest.fixture(scope="session")
def test_warehouse_uri() -> str:
    """The warehouse connection, pointed at the tests' own database."""
    _require_env("AIRFLOW_CONN_WAREHOUSE")
    return warehouse.with_database(connections.warehouse_uri(), TEST_DATABASE)


@pytest.fixture
def fresh_warehouse(test_warehouse_uri: str) -> str:
    """An empty, fully migrated warehouse in the test database."""
    warehouse.recreate(test_warehouse_uri)
    return test_warehouse_uri


@pytest.fixture
def topics(kafka_bootstrap: str) -> dict[str, str]:
    """A fresh bars topic and dead-letter topic for one test."""
    from market_pipeline import kafka_io

    suffix = uuid.uuid4().hex[:8]
    names = {"bars": f"test.bars.{suffix}", "dead_letter": f"test.dead-letter.{suffix}"}
    kafka_io.ensure_topics(kafka_bootstrap, {names["bars"]: 2, names["dead_letter"]: 1})
    return names
