"""The live DAG run by the real scheduler against a drill's sandbox, for the drills that break
something under Airflow (`postgres`, `scheduler`).

The sandbox is `harness.sandbox.sandbox` (its own simulator on a virtual clock, API
connection, config and ledger Variables, topics and drain query), with the warehouse connection
pointed at the drill's private PostgreSQL and every reply of its simulator recorded
(`drills.counts.ServedBars`). The key is an end-of-day one, at Tuesday 2026-11-24 21:00
US/Eastern: the first run fetches each symbol's trailing 30 days (~4,000 bars a symbol).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

from drills.counts import ServedBars
from harness.alert_receivers import Received, alert_receivers
from harness.sandbox import Sandbox, airflow_with, free_tier_key, run_dag, sandbox
from market_pipeline import kafka_io
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.in_airflow.connections import kafka_config
from market_pipeline.in_airflow.params import RunTarget

DAG_ID = "market_bars_pipeline"
DRAIN_TASK = "drain_to_warehouse"
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
AFTER_PUBLICATION = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
ALERT_CONNECTIONS = ("smtp_default", "apprise_default")


def airflow_api() -> AirflowApi:
    return airflow_with(DAG_ID)


@contextmanager
def dag_sandbox(api: AirflowApi, warehouse_uri: str, *, max_offsets_per_trigger: int
                ) -> Iterator[tuple[Sandbox, ServedBars]]:
    """A sandbox of the live DAG on an end-of-day key, its replies recorded; its topics are deleted
    and the DAG's paused state is restored afterwards (running it unpauses it)."""
    bootstrap = kafka_config()["bootstrap.servers"]
    was_paused = api.call("GET", f"dags/{DAG_ID}")["is_paused"]
    try:
        with sandbox(api, bootstrap, warehouse_uri, start=AFTER_PUBLICATION, options=free_tier_key("none"),
                     watchlist=WATCHLIST, entitlement="none", max_offsets_per_trigger=max_offsets_per_trigger) as box:
            try:
                yield box, ServedBars(box.simulator)
            finally:
                kafka_io.delete_topics(bootstrap, [box.target.bars_topic, box.target.dead_letter_topic])
    finally:
        if was_paused:
            api.pause(DAG_ID)


def start_run(target: RunTarget) -> Future:
    """`run_dag` in a thread (with its own API session): the drill acts while the run goes on.
    The future's result is run_dag's (run_id, run, task states)."""
    executor = ThreadPoolExecutor(1)
    future = executor.submit(run_dag, AirflowApi.from_environment(), DAG_ID, target)
    executor.shutdown(wait=False)
    return future


def active_run_id(api: AirflowApi, target: RunTarget) -> str | None:
    """The sandbox's queued or running run of the DAG, found by its conf."""
    runs = api.call("GET", f"dags/{DAG_ID}/dagRuns",
                    params={"conf_contains": target.query_name, "state": ["queued", "running"]})["dag_runs"]
    return runs[0]["dag_run_id"] if runs else None


def task_state(api: AirflowApi, run_id: str, task_id: str) -> str | None:
    return api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]


def try_states(api: AirflowApi, run_id: str, task_id: str) -> list[str]:
    """The state of each try of a task, first try first."""
    tries = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/tries")["task_instances"]
    return [ti["state"] for ti in sorted(tries, key=lambda ti: ti["try_number"])]


@contextmanager
def alert_channels(api: AirflowApi) -> Iterator[Received]:
    """The alert connections (`smtp_default`, `apprise_default`) pointed at receivers of this
    process (`harness.alert_receivers`), as tests/integration/test_alerts.py does; refused when they
    exist already (another session's), removed afterwards."""
    with alert_receivers() as received:
        taken = [conn_id for conn_id in ALERT_CONNECTIONS if api.request("GET", f"connections/{conn_id}").ok]
        if taken:
            raise RuntimeError(f"Airflow connections {taken} exist already (another session's alert test?): "
                               "left as they are; delete them or wait")
        created = []
        try:
            for conn_id, connection in zip(ALERT_CONNECTIONS, (received.smtp_connection(),
                                                               received.chat_connection()), strict=True):
                api.call("POST", "connections", json={
                    "connection_id": conn_id, "conn_type": connection["conn_type"], "host": connection.get("host"),
                    "port": connection.get("port"), "extra": json.dumps(connection["extra"])})
                created.append(conn_id)
            yield received
        finally:
            for conn_id in created:
                api.request("DELETE", f"connections/{conn_id}")


def alerts_about(received: Received, run_id: str) -> dict[str, list[str]]:
    """The subjects of the e-mails and the titles of the chat messages about one run (other runs
    of the DAG, the live pipeline's among them, may alert beside it)."""
    return {
        "e-mail": [email["Subject"] for email in received.emails
                   if f"<td>{run_id}</td>" in email.get_body(("html",)).get_content()],
        "chat": [chat["title"] for chat in received.chats if f"Run: {run_id}\n" in chat["message"]],
    }
