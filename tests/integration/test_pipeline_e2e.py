"""The whole pipeline as a user runs it: triggered through Airflow's REST API, executed by
Airflow's own scheduler against the simulator, Kafka, Spark and Postgres of `bin/stack`."""

import json
import os
import uuid
from pathlib import Path

import pytest
from airflow.sdk import Connection
from confluent_kafka import Consumer, TopicPartition

from market_pipeline import kafka_io, warehouse
from market_pipeline.airflow_api import AirflowApi
from market_pipeline.settings import (
    ALPHAVANTAGE_CONN_ID,
    BARS_TOPIC,
    CONFIG_VARIABLE,
    DEAD_LETTER_TOPIC,
    DRAIN_QUERY_NAME,
    KAFKA_CONN_ID,
)
from tests.integration.helpers import fetch_all

pytestmark = pytest.mark.integration
DAG_ID = "market_bars_pipeline"
TOPICS = [BARS_TOPIC, DEAD_LETTER_TOPIC]


@pytest.fixture(scope="module")
def kafka_config() -> dict:
    return dict(Connection.get(KAFKA_CONN_ID).extra_dejson)


@pytest.fixture(scope="module")
def pipeline_run(kafka_config):
    """One triggered run, with Kafka's end offsets from just before it."""
    api = AirflowApi.from_environment()
    api.wait_for_dag(DAG_ID)
    ends_before = kafka_io.end_offsets(kafka_config, TOPICS)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID)
    run = api.wait_for_run(DAG_ID, run_id, timeout_seconds=600)
    return api, run_id, run, ends_before


def test_should_run_every_task_and_land_bars_for_every_symbol(pipeline_run):
    api, run_id, run, ends_before = pipeline_run
    states = api.task_states(DAG_ID, run_id)
    assert run["state"] == "success", states
    assert states["migrate_warehouse"] == "success"
    assert states["fetch_bars"] in ("success", "skipped")  # skipped: the day's quota is spent
    summary = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/fetch_bars/xcomEntries/return_value")
    if states["fetch_bars"] == "success" and summary["value"]["bars_published"]:
        assert states["drain_to_warehouse"] == "success", "published bars must be drained in the same run"

    uri = warehouse.warehouse_uri()
    watchlist = json.loads(api.call("GET", f"variables/{CONFIG_VARIABLE}")["value"])["watchlist"]
    symbols = {symbol for (symbol,) in fetch_all(uri, "SELECT DISTINCT symbol FROM market.bars")}
    assert set(watchlist) <= symbols
    committed = warehouse.committed_offsets(uri, DRAIN_QUERY_NAME)
    for key, end in ends_before.items():
        assert committed.get(key, 0) >= end, f"{key}: messages from before the run were not drained"


def test_should_never_leak_the_api_key(pipeline_run, kafka_config):
    api, run_id, _, _ = pipeline_run
    api_key = Connection.get(ALPHAVANTAGE_CONN_ID).password
    assert api_key and len(api_key) >= 8

    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    leaking_logs = [str(path) for path in logs.rglob("*.log") if api_key in path.read_text(errors="replace")]
    assert leaking_logs == []

    for task_id in ("fetch_bars", "migrate_warehouse"):
        entries = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries")
        for entry in entries["xcom_entries"]:
            value = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
                                    f"{entry['key']}")
            assert api_key not in json.dumps(value)
    variables = api.call("GET", "variables")["variables"]
    assert api_key not in json.dumps(variables)

    assert not any(api_key.encode() in value for value in _all_messages(kafka_config))

    uri = warehouse.warehouse_uri()
    for (table,) in fetch_all(uri, "SELECT tablename FROM pg_tables WHERE schemaname = 'market'"):
        [(count,)] = fetch_all(uri, f"SELECT count(*) FROM market.{table} AS t WHERE t::text LIKE %(pattern)s",
                               {"pattern": f"%{api_key}%"})
        assert count == 0, f"market.{table}"


def _all_messages(kafka_config: dict) -> list[bytes]:
    ends = kafka_io.end_offsets(kafka_config, TOPICS)
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

