"""Failure alerts reach the log always, and the webhook when one is configured."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from market_pipeline.alerts import FailureAlert
from market_pipeline.alphavantage import InvalidApiKey

CONTEXT = {
    "ti": SimpleNamespace(dag_id="market_bars_pipeline", task_id="fetch_bars", run_id="manual__1", try_number=1),
    "exception": InvalidApiKey("the parameter apikey is invalid or missing"),
}


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_should_post_the_failure_to_the_webhook(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({"conn_type": "http", "host": url}))
    FailureAlert().notify(CONTEXT)
    [alert] = received
    assert alert["text"].startswith("ALERT: task market_bars_pipeline.fetch_bars failed (run manual__1, try 1)")
    assert "InvalidApiKey" in alert["text"]


def test_should_only_log_without_a_webhook(webhook, monkeypatch, caplog):
    _, received = webhook
    monkeypatch.delenv("AIRFLOW_CONN_ALERTS_WEBHOOK", raising=False)
    with caplog.at_level("ERROR"):
        FailureAlert().notify(CONTEXT)
    assert received == []
    assert "ALERT: task market_bars_pipeline.fetch_bars failed" in caplog.text
