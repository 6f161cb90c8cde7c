"""Alerts by e-mail and chat, through Airflow's provider notifiers, for every DAG of the pipeline.

Channels, each opt-in through its connection (without it the channel is skipped, with a log line):
- e-mail: the smtp provider's `SmtpNotifier` over `smtp_default` (host, port, login, password;
  extra `from_email`, and `alert_to`: the recipients, comma-separated);
- chat: the apprise provider's `AppriseNotifier` over `apprise_default` (extra `config`: Apprise
  URLs such as `slack://…`, `workflows://…` for Teams, `mmost://…`, or `json://…` for any
  webhook).

When they fire:
- `task_failed`, every task's `on_failure_callback`: Airflow calls it only when the last try
  fails (earlier tries would call `on_retry_callback`, which is not set), with the exception;
- `run_failed`, every DAG's `on_failure_callback`: only when no task failure explains it (the
  run timed out, or deadlocked): a failed task has already alerted;
- `run_overdue`, every DAG's deadline alert: a run not done some time after it was queued.

The message is composed here and handed to the notifiers as plain text: it never goes through
Jinja, so an exception text with braces cannot break it. It names the DAG, task, run and try,
gives the exception's first line and links to the log; the API key is never in it (the API
client redacts it from every message it raises).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from urllib.parse import quote

from airflow.sdk import BaseNotifier, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from market_pipeline.settings import CHAT_CONN_ID, SMTP_CONN_ID

SUBJECT_PREFIX = "[market-data]"
# Failure reasons of a DAG run that a failed task has already alerted about.
TASK_FAILURE_REASONS = {"task_failure"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    subject: str
    lines: tuple[tuple[str, str], ...]  # (label, value), in order

    @property
    def text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.lines)

    @property
    def html(self) -> str:
        rows = "".join(f"<tr><th align='left'>{escape(label)}</th><td>{_html_value(value)}</td></tr>"
                       for label, value in self.lines)
        return f"<p>{escape(self.subject)}</p><table>{rows}</table>"


def _html_value(value: str) -> str:
    if value.startswith(("http://", "https://")):
        return f"<a href='{escape(value, quote=True)}'>{escape(value)}</a>"
    return escape(value)


def first_line(error: BaseException | None) -> str:
    """The exception's first line; when it was raised while handling another (a timeout that
    interrupted a database call), the one that started it comes first."""
    if error is None:
        return "no exception recorded"
    root = error
    while (cause := root.__cause__ or (None if root.__suppress_context__ else root.__context__)) is not None:
        root = cause
    text = _line(root)
    return text if root is error else f"{text} (then {_line(error)})"


def _line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def task_alert(context) -> Alert:
    ti = context["ti"]
    return Alert(
        subject=f"{SUBJECT_PREFIX} {ti.dag_id}.{ti.task_id} failed on its last try ({ti.try_number})",
        lines=(("DAG", ti.dag_id), ("Task", ti.task_id), ("Run", ti.run_id), ("Try", str(ti.try_number)),
               ("Error", first_line(context.get("exception"))), ("Log", ti.log_url)),
    )


def run_alert(context) -> Alert:
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    reason = context.get("reason") or "failed"
    return Alert(
        subject=f"{SUBJECT_PREFIX} {dag_id} run failed: {reason}",
        lines=(("DAG", dag_id), ("Run", run_id), ("Reason", reason), ("Run page", run_url(dag_id, run_id))),
    )


def overdue_alert(context) -> Alert:
    run = context["dag_run"]
    deadline = context["deadline"]["deadline_time"]
    return Alert(
        subject=f"{SUBJECT_PREFIX} {run['dag_id']} run not done by its deadline",
        lines=(("DAG", run["dag_id"]), ("Run", run["dag_run_id"]), ("State", str(run["state"])),
               ("Queued at", str(run["queued_at"])), ("Deadline", str(deadline)),
               ("Run page", run_url(run["dag_id"], run["dag_run_id"]))),
    )


def run_url(dag_id: str, run_id: str) -> str:
    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/")
    return f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"


def _connection(conn_id: str):
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        log.info("alert channel %s not configured (no connection): skipped", conn_id)
        return None


def _email(alert: Alert, smtp):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    recipients = [address.strip() for address in smtp.extra_dejson.get("alert_to", "").split(",") if address.strip()]
    if not recipients:
        raise ValueError(f"connection {SMTP_CONN_ID} has no recipients: set alert_to in its extra")
    return SmtpNotifier(to=recipients, subject=alert.subject, html_content=alert.html, smtp_conn_id=SMTP_CONN_ID)


def _chat(alert: Alert):
    from airflow.providers.apprise.notifications.apprise import AppriseNotifier
    from apprise import NotifyType

    return AppriseNotifier(body=alert.text, title=alert.subject, notify_type=NotifyType.FAILURE,
                           apprise_conn_id=CHAT_CONN_ID)


def channels(alert: Alert) -> list:
    """The notifiers of the configured channels, ready to send `alert`."""
    notifiers = []
    if smtp := _connection(SMTP_CONN_ID):
        notifiers.append(_email(alert, smtp))
    if _connection(CHAT_CONN_ID):
        notifiers.append(_chat(alert))
    return notifiers


def send(alert: Alert) -> None:
    log.error("ALERT %s\n%s", alert.subject, alert.text)
    for notifier in channels(alert):
        notifier.notify({})  # the alert is already composed: nothing to render


class TaskFailed(BaseNotifier):
    """A task's last try failed."""

    def notify(self, context) -> None:
        send(task_alert(context))


class RunFailed(BaseNotifier):
    """A DAG run failed with no failed task to say why (a timeout, a deadlock)."""

    def notify(self, context) -> None:
        if context.get("reason") in TASK_FAILURE_REASONS:
            return
        send(run_alert(context))


task_failed = TaskFailed()
run_failed = RunFailed()


def task_defaults(*, retries: int, retry_delay, **more) -> dict:
    """Every pipeline DAG's default_args: its owner, retries, and the last-try failure alert."""
    return {"owner": "market-data", "retries": retries, "retry_delay": retry_delay,
            "on_failure_callback": task_failed, **more}


def dag_alerting(*, deadline: timedelta | None) -> dict:
    """The alerting arguments of every pipeline DAG: the run-level failure callback, and a deadline
    alert for a run not done `deadline` after it was queued. Airflow's Deadline Alerts are
    experimental (tests/integration/test_alerts.py pins what we rely on); their Variable-backed
    interval stops the scheduler in Airflow 3.3.2 (it commits inside the scheduler's locked
    transaction), so the interval is fixed here."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    arguments: dict = {"on_failure_callback": run_failed}
    if deadline:
        arguments["deadline"] = DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=deadline,
                                              callback=AsyncCallback(run_overdue))
    return arguments


async def run_overdue(context: dict) -> None:
    """A deadline alert's callback (runs in the triggerer): the run is not done in time."""
    alert = overdue_alert(context)
    log.error("ALERT %s\n%s", alert.subject, alert.text)
    notifiers = []
    if smtp := await _async_connection(SMTP_CONN_ID):
        notifiers.append(_email(alert, smtp))
    if await _async_connection(CHAT_CONN_ID):
        notifiers.append(_chat(alert))
    for notifier in notifiers:
        await notifier.async_notify({})


async def _async_connection(conn_id: str):
    try:
        return await Connection.async_get(conn_id)
    except AirflowNotFoundException:
        log.info("alert channel %s not configured (no connection): skipped", conn_id)
        return None
