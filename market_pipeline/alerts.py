"""Failure alerts: every failed task of the pipeline's DAGs calls `FailureAlert`.

The alert always goes to the task log as one ERROR line starting with "ALERT",
and, when the `alerts_webhook` HTTP connection exists (host = webhook URL), is
POSTed there as JSON `{"text": ...}`, the shape Slack, Mattermost and Teams
incoming webhooks accept.  Without that connection, alerting is log-only.
"""

from __future__ import annotations

import logging

import requests
from airflow.sdk import BaseNotifier, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

ALERTS_WEBHOOK_CONN_ID = "alerts_webhook"
WEBHOOK_TIMEOUT_SECONDS = 10

log = logging.getLogger(__name__)


def alert_text(context) -> str:
    ti = context["ti"]
    error = context.get("exception")
    return (
        f"ALERT: task {ti.dag_id}.{ti.task_id} failed (run {ti.run_id}, try {ti.try_number})"
        f"{f': {type(error).__name__}: {error}' if error else ''}"
    )


class FailureAlert(BaseNotifier):
    def notify(self, context) -> None:
        text = alert_text(context)
        log.error(text)
        try:
            webhook = Connection.get(ALERTS_WEBHOOK_CONN_ID)
        except AirflowNotFoundException:
            return  # log-only alerting: no webhook configured
        response = requests.post(webhook.host, json={"text": text}, timeout=WEBHOOK_TIMEOUT_SECONDS)
        response.raise_for_status()
