"""Alert messages, and the provider notifiers delivering them to a real SMTP server (aiosmtpd)
and an HTTP chat receiver, configured by connections."""

import asyncio
import json
from types import SimpleNamespace

import pytest

from harness.alert_receivers import alert_receivers
from market_pipeline.fetch.alphavantage import InvalidApiKey
from market_pipeline.in_airflow import alerts

TI = SimpleNamespace(dag_id="market_bars_pipeline", task_id="fetch_bars", run_id="scheduled__2026-11-24T16:00:00",
                     try_number=3, log_url="http://127.0.0.1:8080/dags/market_bars_pipeline/runs/r/tasks/fetch_bars")
TASK_CONTEXT = {"ti": TI, "exception": InvalidApiKey("the parameter apikey is invalid or missing\nsecond line {{ x }}")}


@pytest.fixture
def receivers(monkeypatch):
    with alert_receivers() as received:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(received.smtp_connection()))
        monkeypatch.setenv("AIRFLOW_CONN_APPRISE_DEFAULT", json.dumps(received.chat_connection()))
        yield received


def test_a_task_alert_names_dag_task_run_try_and_the_exception_s_first_line_and_links_the_log():
    alert = alerts.task_alert(TASK_CONTEXT)
    assert alert.subject == "[market-data] market_bars_pipeline.fetch_bars failed on its last try (3)"
    assert dict(alert.lines) == {"DAG": "market_bars_pipeline", "Task": "fetch_bars", "Run": TI.run_id, "Try": "3",
                                 "Error": "InvalidApiKey: the parameter apikey is invalid or missing",
                                 "Log": TI.log_url}
    assert f"<a href='{TI.log_url}'>" in alert.html


def test_the_error_line_starts_from_the_exception_that_started_it():
    try:
        try:
            raise TimeoutError("Timeout, PID: 42")
        except TimeoutError as timeout:
            raise ConnectionError("cannot exit pipeline mode while busy\nmore") from timeout
    except ConnectionError as error:
        assert alerts.first_line(error) == ("TimeoutError: Timeout, PID: 42 "
                                            "(then ConnectionError: cannot exit pipeline mode while busy)")
    try:
        try:
            raise KeyError("x")
        except KeyError:
            raise ValueError("clean") from None
    except ValueError as error:
        assert alerts.first_line(error) == "ValueError: clean", "a suppressed context is not the cause"


def test_email_and_chat_each_get_one_message_through_the_provider_notifiers(receivers):
    alerts.task_failed.notify(TASK_CONTEXT)
    (email,) = receivers.emails
    (chat,) = receivers.chats
    assert email["To"] == "oncall@pipeline.test" and email["Subject"] == alerts.task_alert(TASK_CONTEXT).subject
    body = email.get_body(("html",)).get_content()
    assert "fetch_bars" in body and "InvalidApiKey: the parameter apikey is invalid or missing" in body
    assert "second line" not in body and TI.log_url in body
    assert chat["title"] == email["Subject"] and chat["type"] == "failure"
    assert "Run: scheduled__2026-11-24T16:00:00" in chat["message"] and "Try: 3" in chat["message"]


def test_channels_without_a_connection_are_skipped(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_APPRISE_DEFAULT", raising=False)
    with caplog.at_level("INFO"):
        alerts.task_failed.notify(TASK_CONTEXT)
    assert "smtp_default not configured" in caplog.text and "apprise_default not configured" in caplog.text
    assert "ALERT [market-data] market_bars_pipeline.fetch_bars failed" in caplog.text


def test_a_run_failure_alerts_only_when_no_task_failure_did(receivers):
    dag = SimpleNamespace(dag_id="market_bars_pipeline")
    alerts.run_failed.notify({"dag": dag, "run_id": "r1", "reason": "task_failure", "ti": TI})
    assert receivers.emails == [] and receivers.chats == []
    alerts.run_failed.notify({"dag": dag, "run_id": "r1", "reason": "timed_out"})
    (email,) = receivers.emails
    assert email["Subject"] == "[market-data] market_bars_pipeline run failed: timed_out"
    assert "/dags/market_bars_pipeline/runs/r1" in email.get_body(("html",)).get_content()
    assert len(receivers.chats) == 1


def test_an_overdue_run_alerts_from_the_deadline_callback(receivers):
    context = {"dag_run": {"dag_id": "market_bars_pipeline", "dag_run_id": "manual__x", "state": "running",
                           "queued_at": "2026-11-24T16:00:00Z"},
               "deadline": {"id": "d1", "deadline_time": "2026-11-24T16:10:00Z"}}
    asyncio.run(alerts.run_overdue(context))
    (email,) = receivers.emails
    assert email["Subject"] == "[market-data] market_bars_pipeline run not done by its deadline"
    assert "manual__x" in email.get_body(("html",)).get_content() and len(receivers.chats) == 1
