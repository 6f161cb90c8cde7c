"""The whole pipeline as a user runs it: triggered through Airflow's REST API and executed by
Airflow's own scheduler against Kafka, Spark and Postgres of `bin/stack`.

Each run proves its own work: the DAG's params point it at this module's own
simulator (on a virtual clock, at a trading Tuesday 11:00 US/Eastern), its own
API connection, config and ledger Variables, Kafka topics, drain query and
the tests' warehouse database; nothing the demo left behind can satisfy it.
"""

import json
import os
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from confluent_kafka import Consumer, TopicPartition

from market_pipeline import kafka_io, warehouse
from market_pipeline.airflow_api import AirflowApi
from market_pipeline.config import RunTarget
from market_pipeline.quota import Ledger
from market_pipeline.settings import CHECKPOINTS_DIR, CONFIG_VARIABLE
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server
from tests.conftest import TRADING_MORNING
from tests.integration.helpers import fetch_all

pytestmark = pytest.mark.integration
DAG_ID = "market_bars_pipeline"
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
# The newest bar a delayed key sees at 11:00: the one from 10:40 to 10:45 US/Eastern.
NEWEST_DELAYED_BAR = datetime(2026, 11, 24, 15, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    api = AirflowApi.from_environment()
    api.wait_for_dag(DAG_ID)
    return api


@pytest.fixture(scope="module")
def e2e(api, kafka_bootstrap, test_warehouse_uri):
    """This module's own simulator, connections, Variables, topics and warehouse, removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    simulator = AlphaVantageSimulator(
        SimClock(TRADING_MORNING), SimulatorOptions(per_second=1, per_minute=None, per_day=25,
                                                    key_entitlement="delayed"))
    server = make_server(simulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_key = f"E2EKEY-{uuid.uuid4().hex}"
    target = RunTarget(
        config_variable=f"market_data_config_e2e_{suffix}", ledger_variable=f"quota_ledger_e2e_{suffix}",
        alphavantage_conn_id=f"alphavantage_e2e_{suffix}", warehouse_conn_id=f"warehouse_e2e_{suffix}",
        bars_topic=f"e2e.bars.{suffix}", dead_letter_topic=f"e2e.dead-letter.{suffix}",
        query_name=f"e2e_{suffix}", as_of=TRADING_MORNING,
    )
    kafka_io.ensure_topics(kafka_bootstrap, {target.bars_topic: 3, target.dead_letter_topic: 1})
    warehouse.recreate(test_warehouse_uri)
    live_config = json.loads(api.call("GET", f"variables/{CONFIG_VARIABLE}")["value"])
    set_config(api, target, {**live_config, "watchlist": WATCHLIST, "entitlement": "delayed"})
    api.call("POST", "connections", json={
        "connection_id": target.alphavantage_conn_id, "conn_type": "http",
        "host": f"http://127.0.0.1:{server.server_address[1]}/query", "password": api_key})
    db = warehouse_parts(test_warehouse_uri)
    api.call("POST", "connections", json={"connection_id": target.warehouse_conn_id, "conn_type": "postgres", **db})
    try:
        yield target, simulator, api_key, test_warehouse_uri
    finally:
        api.pause(DAG_ID)  # the other tests need no scheduled runs beside them
        for conn_id in (target.alphavantage_conn_id, target.warehouse_conn_id):
            api.request("DELETE", f"connections/{conn_id}")
        for key in (target.config_variable, target.ledger_variable):
            api.request("DELETE", f"variables/{key}")
        shutil.rmtree(CHECKPOINTS_DIR / target.query_name, ignore_errors=True)
        server.shutdown()
        server.server_close()


def warehouse_parts(uri: str) -> dict:
    parts = urlsplit(uri)
    return {"host": parts.hostname, "port": parts.port, "login": parts.username, "password": parts.password,
            "schema": parts.path.lstrip("/")}


def set_config(api: AirflowApi, target: RunTarget, config: dict) -> None:
    body = {"key": target.config_variable, "value": json.dumps(config)}
    if api.request("GET", f"variables/{target.config_variable}").status_code == 404:
        api.call("POST", "variables", json=body)
    else:
        api.call("PATCH", f"variables/{target.config_variable}", json=body)


def run_pipeline(api: AirflowApi, target: RunTarget) -> tuple[str, dict, dict]:
    run_id = api.trigger(DAG_ID, conf=target.model_dump(mode="json"), ahead_of_schedule=True)
    api.unpause(DAG_ID)
    run = api.wait_for_run(DAG_ID, run_id, timeout_seconds=600)
    return run_id, run, api.task_states(DAG_ID, run_id)


@pytest.fixture(scope="module")
def delayed_run(api, e2e):
    target, simulator, _, _ = e2e
    run_id, run, states = run_pipeline(api, target)
    return run_id, run, states, simulator.requests_served


def test_a_delayed_run_fetches_publishes_and_drains_bars_up_to_fifteen_minutes_ago(api, e2e, delayed_run,
                                                                                     kafka_bootstrap):
    target, simulator, _, uri = e2e
    run_id, run, states, requests_served = delayed_run
    assert run["state"] == "success", states
    assert states == {"fetch_bars": "success", "check_backlog": "success", "drain_to_warehouse": "success"}

    summary = api.xcom(DAG_ID, run_id, "fetch_bars")
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
    ledger = Ledger.model_validate_json(api.call("GET", f"variables/{target.ledger_variable}")["value"])
    assert ledger.calls_today == 3


def test_an_end_of_day_run_during_the_session_makes_no_call(api, e2e, delayed_run):
    target, simulator, _, uri = e2e
    live_config = json.loads(api.call("GET", f"variables/{target.config_variable}")["value"])
    set_config(api, target, {**live_config, "entitlement": "none"})
    served_before = simulator.requests_served
    [(bars_before,)] = fetch_all(uri, "SELECT count(*) FROM market.bars")

    run_id, run, states = run_pipeline(api, target.model_copy(update={"as_of": TRADING_MORNING + timedelta(hours=1)}))
    assert run["state"] == "success", states
    assert states["fetch_bars"] == "success" and states["drain_to_warehouse"] == "skipped"
    summary = api.xcom(DAG_ID, run_id, "fetch_bars")
    assert summary["planned"] == [] and summary["calls"] == 0
    assert "end-of-day data" in summary["idle_reason"]
    assert simulator.requests_served == served_before
    assert fetch_all(uri, "SELECT count(*) FROM market.api_calls WHERE run_id = %(r)s", {"r": run_id}) == [(0,)]
    assert fetch_all(uri, "SELECT count(*) FROM market.bars") == [(bars_before,)]


def test_a_failed_fetch_still_writes_its_api_call_log(api, e2e, delayed_run):
    target, simulator, _, uri = e2e
    live_config = json.loads(api.call("GET", f"variables/{target.config_variable}")["value"])
    set_config(api, target, {**live_config, "entitlement": "delayed", "fetch_when_closed": True})
    simulator.options.valid_keys = {"another-key"}
    later = target.model_copy(update={"as_of": TRADING_MORNING + timedelta(hours=2)})
    try:
        run_id, run, states = run_pipeline(api, later)
    finally:
        simulator.options.valid_keys = None
    assert run["state"] == "failed" and states["fetch_bars"] == "failed", states
    calls = fetch_all(uri, "SELECT symbol, outcome, http_status, bars FROM market.api_calls WHERE run_id = %(r)s",
                      {"r": run_id})
    assert calls == [("TSLA", "invalid_api_key", 200, None)]


def test_should_never_leak_the_api_key(api, e2e, delayed_run, kafka_bootstrap):
    target, _, api_key, uri = e2e
    run_id = delayed_run[0]

    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    leaking_logs = [str(path) for path in logs.rglob("*.log") if api_key in path.read_text(errors="replace")]
    assert leaking_logs == []

    for task_id in ("fetch_bars", "check_backlog"):
        entries = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries")
        for entry in entries["xcom_entries"]:
            assert api_key not in json.dumps(api.xcom(DAG_ID, run_id, task_id, entry["key"]))
    assert api_key not in json.dumps(api.call("GET", "variables")["variables"])

    topics = [target.bars_topic, target.dead_letter_topic]
    messages = _all_messages({"bootstrap.servers": kafka_bootstrap}, topics)
    assert messages and not any(api_key.encode() in value for value in messages)

    for (table,) in fetch_all(uri, "SELECT tablename FROM pg_tables WHERE schemaname = 'market'"):
        [(count,)] = fetch_all(uri, f"SELECT count(*) FROM market.{table} AS t WHERE t::text LIKE %(pattern)s",
                               {"pattern": f"%{api_key}%"})
        assert count == 0, f"market.{table}"


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
