"""Alerts as Airflow's scheduler, workers and triggerer send them: to a real SMTP server
(aiosmtpd) and an HTTP chat receiver, through the smtp_default and apprise_default connections.

A task's last failed try sends exactly one e-mail and one chat message, earlier tries none; a
task past its execution_timeout fails and alerts, and its run, not done by its deadline, alerts
from the triggerer (Airflow's Deadline Alerts are experimental: this pins the behaviour we rely
on); the freshness watchdog fails and alerts on stale data during a session and passes while the
market is closed.

"No more than that" is checked once nothing more can come: a task's failure callbacks run before
its failed state is reported (the Task SDK's supervisor reports it when the task's process has
exited), so once the run has ended they have sent, and a marker through each receiver
(`Received.flush`) shows that what was sent has arrived.
"""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest

from harness.alert_receivers import Received, alert_receivers
from harness.sandbox import airflow_with, free_tier_key, run_dag, sandbox
from harness.services import free_port
from harness.waits import wait_for
from harness.warehouse import fetch_all
from market_pipeline.in_airflow.airflow_api import AirflowApi
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.live_dag]
PIPELINE, WATCHDOG = "market_bars_pipeline", "market_freshness_watchdog"
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
OVERDUE_PIPELINE_RUN = "[market-data] market_bars_pipeline run not done by its deadline"


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    api = airflow_with(PIPELINE, WATCHDOG)
    api.unpause(PIPELINE)  # before any test may read its paused flag to restore it: see tests/conftest.py
    return api


@pytest.fixture(scope="module")
def received(api):
    """The alert connections point at this module's receivers, in Airflow's metadata database
    (so the scheduler's workers and the triggerer see them), and go away afterwards."""
    with alert_receivers() as received:
        for conn_id, connection in (("smtp_default", received.smtp_connection()),
                                    ("apprise_default", received.chat_connection())):
            api.request("DELETE", f"connections/{conn_id}")  # left by an interrupted run
            api.call("POST", "connections", json={"connection_id": conn_id, "conn_type": connection["conn_type"],
                                                  "host": connection.get("host"), "port": connection.get("port"),
                                                  "extra": json.dumps(connection["extra"])})
        try:
            yield received
        finally:
            for conn_id in ("smtp_default", "apprise_default"):
                api.request("DELETE", f"connections/{conn_id}")
            api.pause(WATCHDOG)  # the pipeline stays unpaused: other groups' runs may be queued on it


@pytest.fixture
def box(api, kafka_bootstrap, test_warehouse_uri, received):
    with sandbox(api, kafka_bootstrap, test_warehouse_uri, start=TRADING_MORNING, options=free_tier_key("realtime"),
                 watchlist=WATCHLIST, entitlement="realtime", quota={"per_day": 25, "per_minute": None,
                                                                     "per_second": 1}) as box:
        received.emails.clear()
        received.chats.clear()
        yield box


def try_number(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> int:
    return api.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["try_number"]


def emails_for(received: Received, run_id: str) -> dict[str, str]:
    """Subject to HTML body of the e-mails about one run. Scheduled runs of the unpaused DAGs
    (the live target) may alert beside the test's run: only its own messages count."""
    bodies = [(email["Subject"], email.get_body(("html",)).get_content()) for email in received.emails]
    mine = [(subject, body) for subject, body in bodies if f"<td>{run_id}</td>" in body]
    assert len({subject for subject, _ in mine}) == len(mine), f"one e-mail per alert: {[s for s, _ in mine]}"
    return dict(mine)


def chats_for(received: Received, run_id: str) -> list[dict]:
    return [chat for chat in received.chats if f"Run: {run_id}\n" in chat["message"]]


def assert_no_key(received: Received, api_key: str) -> None:
    assert all(api_key not in text for text in received.texts())


def test_only_the_last_failed_try_sends_one_email_and_one_chat_message(api, box, received):
    # A ledger the fetch cannot read fails every try the same way.
    api.call("POST", "variables", json={"key": box.target.ledger_variable, "value": "not a ledger"})
    run_id, run, states = run_dag(api, PIPELINE, box.target)
    assert run["state"] == "failed" and states["fetch_bars"] == "failed", states
    assert try_number(api, PIPELINE, run_id, "fetch_bars") == 3, "two retries first"
    subject = "[market-data] market_bars_pipeline.fetch_bars failed on its last try (3)"
    wait_for(lambda: subject in emails_for(received, run_id)
             and any(chat["title"] == subject for chat in chats_for(received, run_id)), 90, "timed out waiting")
    received.flush()
    emails = emails_for(received, run_id)
    body = emails.pop(subject)
    for field in ("market_bars_pipeline", "fetch_bars", "ValidationError: 1 validation error for Ledger",
                  "/dags/market_bars_pipeline/runs/", "/tasks/fetch_bars?try_number=3"):
        assert field in body, field
    # Three tries and their retry delays can outlast the run's five-minute deadline on a busy
    # machine: its alert is about the run, not a try, and may come beside the task's.
    assert set(emails) <= {OVERDUE_PIPELINE_RUN}, f"no alert for the earlier tries: {list(emails)}"
    chat_titles = [chat["title"] for chat in chats_for(received, run_id)]
    assert chat_titles.count(subject) == 1 and set(chat_titles) <= {subject, OVERDUE_PIPELINE_RUN}, chat_titles
    assert_no_key(received, box.api_key)


def test_a_drain_whose_spark_connect_server_is_down_fails_and_its_last_try_alerts_naming_the_server(api, box,
                                                                                                    received):
    # The run's own Spark Connect connection, on a port where nothing listens.
    conn_id, port = f"spark_connect_{box.target.query_name}", free_port()
    api.call("POST", "connections", json={"connection_id": conn_id, "conn_type": "spark_connect",
                                          "host": "sc://127.0.0.1", "port": port})
    try:
        run_id, run, states = run_dag(api, PIPELINE, box.target.model_copy(update={"spark_connect_conn_id": conn_id}))
    finally:
        api.request("DELETE", f"connections/{conn_id}")
    assert run["state"] == "failed" and states["fetch_bars"] == "success", states
    assert states["drain_to_warehouse"] == "failed" and try_number(api, PIPELINE, run_id, "drain_to_warehouse") == 3
    subject = "[market-data] market_bars_pipeline.drain_to_warehouse failed on its last try (3)"
    wait_for(lambda: subject in emails_for(received, run_id), 90, "timed out waiting")
    assert (f"SparkConnectUnavailable: the Spark Connect server at 127.0.0.1:{port} (connection {conn_id}) "
            "is not answering") in emails_for(received, run_id)[subject]
    assert any(chat["title"] == subject and "Spark Connect server" in chat["message"]
               for chat in chats_for(received, run_id))


def test_a_stuck_run_alerts_at_its_deadline_and_its_task_at_the_execution_timeout(api, box, received,
                                                                                  test_warehouse_uri):
    # The watchdog's write waits behind this lock past its one-minute execution_timeout, twice,
    # and so the run passes its two-minute deadline.
    with psycopg.connect(test_warehouse_uri) as blocker:
        blocker.execute("LOCK TABLE market.freshness_checks IN ACCESS EXCLUSIVE MODE")
        run_id, run, states = run_dag(api, WATCHDOG, box.target)
    assert run["state"] == "failed", states
    wait_for(lambda: len(emails_for(received, run_id)) == 2 and len(chats_for(received, run_id)) == 2, 90,
             "timed out waiting")
    received.flush()
    emails = emails_for(received, run_id)
    timeout = emails.pop("[market-data] market_freshness_watchdog.check_freshness failed on its last try (2)")
    assert "AirflowTaskTimeout" in timeout
    assert set(emails) == {"[market-data] market_freshness_watchdog run not done by its deadline"}, \
        "sent by the triggerer, from the deadline's own context"
    assert len(chats_for(received, run_id)) == 2


def test_the_watchdog_alerts_on_stale_data_in_a_session_and_passes_when_the_market_is_closed(api, box, received):
    run_id, run, _ = run_dag(api, WATCHDOG, box.target)  # Tuesday 11:00, realtime key, nothing loaded
    assert run["state"] == "failed"
    subject = "[market-data] market_freshness_watchdog.check_freshness failed on its last try (1)"
    wait_for(lambda: subject in emails_for(received, run_id) and chats_for(received, run_id), 90,
             "timed out waiting")
    body = emails_for(received, run_id)[subject]
    assert "stale market data: TSLA (newest bar 420 min behind the newest visible one (limit 30 min))" in body
    assert try_number(api, WATCHDOG, run_id, "check_freshness") == 1, "a stale verdict is not retried"
    verdicts = fetch_all(box.warehouse_uri, "SELECT symbol, stale FROM market.freshness_checks ORDER BY symbol")
    assert verdicts == [(symbol, True) for symbol in sorted(WATCHLIST)]

    box.advance(timedelta(days=4))  # Saturday 11:00
    run_id, run, _ = run_dag(api, WATCHDOG, box.target)
    assert run["state"] == "success"
    assert fetch_all(box.warehouse_uri, "SELECT DISTINCT stale, reason FROM market.freshness_checks") == [
        (False, "market closed to the key")]
    received.flush()
    assert emails_for(received, run_id) == {} and chats_for(received, run_id) == []
