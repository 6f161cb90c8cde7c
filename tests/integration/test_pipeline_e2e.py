"""The whole pipeline as a user runs it: triggered through Airflow's REST API and executed by
Airflow's own scheduler against Kafka, Spark and Postgres of `bin/stack`.

Each run proves its own work: the DAG's params point it at a sandbox
(`harness.sandbox.sandbox`): its own simulator on a virtual clock at
a trading Tuesday 11:00 US/Eastern, API connection, config and ledger
Variables, Kafka topics, drain query and the tests' warehouse database;
nothing the demo left behind can satisfy it.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from harness.sandbox import airflow_with, run_dag
from harness.waits import wait_for
from harness.warehouse import fetch_all
from market_pipeline import kafka_io, warehouse
from market_pipeline.in_airflow import connections
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.settings import FETCH_SUMMARY_XCOM_KEY, QUOTA_LEDGER_VARIABLE
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.live_dag]
DAG_ID = "market_bars_pipeline"
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
# The newest bar a delayed key sees at 11:00: the one from 10:40 to 10:45 US/Eastern.
NEWEST_DELAYED_BAR = datetime(2026, 11, 24, 15, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    return airflow_with(DAG_ID)


@pytest.fixture(scope="module")
def e2e(free_tier_sandbox):
    return free_tier_sandbox("delayed", start=TRADING_MORNING, watchlist=WATCHLIST)


@pytest.fixture(scope="module")
def delayed_run(api, e2e):
    run_id, run, states = run_dag(api, DAG_ID, e2e.target)
    return run_id, run, states, e2e.simulator.requests_served


def test_a_delayed_run_fetches_publishes_and_drains_bars_up_to_fifteen_minutes_ago(api, e2e, delayed_run,
                                                                                     kafka_bootstrap):
    target, uri = e2e.target, e2e.warehouse_uri
    run_id, run, states, requests_served = delayed_run
    assert run["state"] == "success", states
    assert states == {"fetch_bars": "success", "drain_to_warehouse": "success"}

    summary = api.xcom(DAG_ID, run_id, "fetch_bars", FETCH_SUMMARY_XCOM_KEY)
    assert summary["planned"] == WATCHLIST and summary["calls"] == 3 == requests_served
    assert summary["bars_published"] == 300, "three compact replies, all new"

    newest = dict(fetch_all(uri, "SELECT symbol, max(bar_time) FROM market.bars GROUP BY symbol"))
    assert newest == {symbol: NEWEST_DELAYED_BAR for symbol in WATCHLIST}
    [(rows, first_fetch, last_fetch)] = fetch_all(uri, "SELECT count(*), min(fetched_at), max(fetched_at) "
                                                       "FROM market.bars")
    assert rows == summary["bars_published"]
    assert TRADING_MORNING <= first_fetch <= last_fetch < TRADING_MORNING + timedelta(minutes=10)

    committed = warehouse.committed_offsets(uri, target.query_name)
    ends = kafka_io.end_offsets({"bootstrap.servers": kafka_bootstrap}, (target.bars_topic, target.dead_letter_topic))
    assert committed == {key: end for key, end in ends.items() if end > 0}

    calls = fetch_all(uri, "SELECT symbol, outcome, entitlement, http_status, bars, try_number FROM market.api_calls "
                           "WHERE run_id = %(run_id)s ORDER BY api_call_id", {"run_id": run_id})
    assert calls == [(symbol, "ok", "delayed", 200, 100, 1) for symbol in WATCHLIST]
    assert e2e.ledger().calls_today == 3

    # The run left the reporting layer what it reads: fetch state, the lag seen, refreshed views.
    assert fetch_all(uri, "SELECT symbol, entitlement, data_delay FROM market.fetch_state ORDER BY symbol") == [
        (symbol, "delayed", timedelta(minutes=15)) for symbol in sorted(WATCHLIST)]
    assert fetch_all(uri, "SELECT sum(lag_at_check), sum(still_unloaded) FROM reporting.kafka_lag") == [(300, 0)]
    assert fetch_all(uri, "SELECT symbol, bars_loaded FROM reporting.dim_symbol ORDER BY symbol") == [
        (symbol, 100) for symbol in sorted(WATCHLIST)]

    # The sink ran beside the Spark Connect server; the task's own log says what the launch loaded.
    drain_log = (Path(os.environ["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
                 / "task_id=drain_to_warehouse" / "attempt=1.log").read_text()
    assert "Spark-Submit cmd" in drain_log and "--jars" not in drain_log, "a session on the server: no connector"
    assert (f"{target.query_name}: this launch committed batches: 1, messages: 300, bars upserted: 300, "
            "rows quarantined: 0") in drain_log


def test_an_end_of_day_run_during_the_session_makes_no_call(api, e2e, delayed_run):
    uri = e2e.warehouse_uri
    e2e.set_config(entitlement="none")
    e2e.advance(timedelta(hours=1))
    served_before = e2e.simulator.requests_served
    [(bars_before,)] = fetch_all(uri, "SELECT count(*) FROM market.bars")

    run_id, run, states = run_dag(api, DAG_ID, e2e.target)
    assert run["state"] == "success", states
    assert states["fetch_bars"] == "success" and states["drain_to_warehouse"] == "skipped"
    summary = api.xcom(DAG_ID, run_id, "fetch_bars", FETCH_SUMMARY_XCOM_KEY)
    assert summary["planned"] == [] and summary["calls"] == 0
    assert "end-of-day data" in summary["idle_reason"]
    assert e2e.simulator.requests_served == served_before
    assert fetch_all(uri, "SELECT count(*) FROM market.api_calls WHERE run_id = %(r)s", {"r": run_id}) == [(0,)]
    assert fetch_all(uri, "SELECT count(*) FROM market.bars") == [(bars_before,)]


def test_a_failed_fetch_still_writes_its_api_call_log(api, e2e, delayed_run):
    uri = e2e.warehouse_uri
    e2e.set_config(entitlement="delayed", fetch_when_closed=True)
    e2e.simulator.options.valid_keys = {"another-key"}
    try:
        run_id, run, states = run_dag(api, DAG_ID, e2e.target)
    finally:
        e2e.simulator.options.valid_keys = None
    assert run["state"] == "failed" and states["fetch_bars"] == "failed", states
    calls = fetch_all(uri, "SELECT symbol, outcome, http_status, bars FROM market.api_calls WHERE run_id = %(r)s",
                      {"r": run_id})
    assert calls == [("TSLA", "invalid_api_key", 200, None)]


def test_should_never_leak_the_api_key(api, e2e, delayed_run, kafka_bootstrap):
    target, api_key, uri = e2e.target, e2e.api_key, e2e.warehouse_uri
    run_id = delayed_run[0]

    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    leaking_logs = [str(path) for path in logs.rglob("*.log") if api_key in path.read_text(errors="replace")]
    assert leaking_logs == []

    entries = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/fetch_bars/xcomEntries")
    for entry in entries["xcom_entries"]:
        assert api_key not in json.dumps(api.xcom(DAG_ID, run_id, "fetch_bars", entry["key"]))
    assert api_key not in json.dumps(api.call("GET", "variables")["variables"])

    topics = [target.bars_topic, target.dead_letter_topic]
    messages = _all_messages({"bootstrap.servers": kafka_bootstrap}, topics)
    assert messages and not any(api_key.encode() in value for value in messages)

    for (table,) in fetch_all(uri, "SELECT tablename FROM pg_tables WHERE schemaname = 'market'"):
        [(count,)] = fetch_all(uri, f"SELECT count(*) FROM market.{table} AS t WHERE t::text LIKE %(pattern)s",
                               {"pattern": f"%{api_key}%"})
        assert count == 0, f"market.{table}"


def test_the_demo_prints_its_run_then_why_nothing_more_was_due(api):
    """`bin/stack demo`'s commands, on the test stack's own live pipeline (its simulator, on the real
    clock): a change to what a task returns or pushes breaks this, not the README's first command."""
    _hold_the_schedule(api)
    # No symbol fetched yet, as on a fresh install: the ledger's counters and its symbols' rows.
    api.request("DELETE", f"variables/{QUOTA_LEDGER_VARIABLE}")
    with warehouse.transaction(connections.warehouse_uri()) as conn:
        conn.execute("DELETE FROM market.symbol_fetch_state WHERE ledger = %(ledger)s",
                     {"ledger": QUOTA_LEDGER_VARIABLE})
    first, again = _cli("run-dag", DAG_ID), _cli("run-dag", DAG_ID)  # each unpauses the DAG, as the demo does
    rows = _cli("show-bars")

    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"^  fetch_bars +success$", first.stdout, re.MULTILINE), first.stdout
    assert re.search(r"^  drain_to_warehouse +success$", first.stdout, re.MULTILINE), first.stdout
    assert re.search(r"^  fetch: 3 API requests \(\d+ today\), [1-9]\d* new bars published$", first.stdout,
                     re.MULTILINE), first.stdout
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^  drain_to_warehouse +skipped$", again.stdout, re.MULTILINE), again.stdout
    assert re.search(r"^  fetch: 0 API requests \(\d+ today\), 0 new bars published\n"
                     r"  nothing new was due: \S.+$", again.stdout, re.MULTILINE), again.stdout
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.rstrip().endswith("(15 rows: the newest 5 bars per symbol in market.bars)"), rows.stdout


def _hold_the_schedule(api: AirflowApi, timeout_seconds: float = 300) -> None:
    """Paused, with no scheduled run queued or running: no run of the live target fetches but the
    CLI's. Other tests' runs (their own targets) may stay queued: the CLI unpauses the DAG again."""
    api.pause(DAG_ID)
    runs = []

    def none_running() -> bool:
        runs[:] = [run for run in api.call("GET", f"dags/{DAG_ID}/dagRuns",
                                           params={"state": ["queued", "running"]})["dag_runs"]
                   if run["run_type"] == "scheduled"]
        for run in runs:
            if run["state"] == "queued":
                api.call("DELETE", f"dags/{DAG_ID}/dagRuns/{run['dag_run_id']}")
        return not [run for run in runs if run["state"] == "running"]

    wait_for(none_running, timeout_seconds, lambda: f"a scheduled run is still running: {runs}", interval=1)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "market_pipeline.cli", *args], capture_output=True, text=True,
                          timeout=600)


def _all_messages(kafka_config: dict, topics: list[str]) -> list[bytes]:
    ends = kafka_io.end_offsets(kafka_config, topics)
    consumer = Consumer({**kafka_config, "group.id": f"key-leak-check-{uuid.uuid4()}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0) for (topic, partition) in ends])
    values, remaining = [], sum(ends.values())
    try:
        while remaining > 0:
            message = consumer.poll(10)
            assert message is not None, f"{remaining} messages never arrived"
            assert message.error() is None
            values.append(message.value())
            remaining -= 1
    finally:
        consumer.close()
    return values
