"""A real SMTP server (aiosmtpd) and an HTTP receiver for chat messages, for the alert tests."""

from __future__ import annotations

import json
import smtplib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer

import requests
from aiosmtpd.controller import Controller

from harness.services import free_port
from harness.waits import wait_for


@dataclass
class Received:
    emails: list = field(default_factory=list)  # email.message.EmailMessage
    chats: list[dict] = field(default_factory=list)
    smtp_port: int = 0
    chat_url: str = ""

    def smtp_connection(self) -> dict:
        """The smtp_default connection that delivers to this server (Airflow's JSON form)."""
        return {"conn_type": "smtp", "host": "127.0.0.1", "port": self.smtp_port,
                "extra": {"from_email": "airflow@pipeline.test", "alert_to": "oncall@pipeline.test",
                          "disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 1}}

    def chat_connection(self) -> dict:
        """The apprise_default connection that posts to this receiver (Apprise's json:// service)."""
        return {"conn_type": "apprise", "extra": {"config": {"path": self.chat_url}}}

    def flush(self, timeout_seconds: float = 30) -> None:
        """Send a marker through each receiver and wait until both arrived: a message handed to a
        receiver before is in its list by then. The markers name no run, so no test counts them."""
        marker = f"marker {uuid.uuid4()}"
        email = EmailMessage()
        email["Subject"], email["From"], email["To"] = marker, "marker@pipeline.test", "oncall@pipeline.test"
        email.set_content(f"<p>{marker}</p>", subtype="html")  # an HTML body, as the alerts have
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(email)
        requests.post(self.chat_url.replace("json://", "http://", 1), json={"title": marker, "message": marker},
                      timeout=10).raise_for_status()
        wait_for(lambda: any(email["Subject"] == marker for email in self.emails)
                 and any(chat.get("title") == marker for chat in self.chats),
                 timeout_seconds, "the receivers did not get their own markers", interval=0.1)

    def texts(self) -> list[str]:
        return [email.get_body(("html", "plain")).get_content() + email["Subject"] for email in self.emails] + [
            json.dumps(chat) for chat in self.chats]


class _Mailbox:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.received.emails.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def alert_receivers() -> Iterator[Received]:
    received = Received()

    class ChatHandler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.chats.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), ChatHandler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    received.smtp_port = free_port()
    smtp = Controller(_Mailbox(received), hostname="127.0.0.1", port=received.smtp_port)
    smtp.start()
    received.chat_url = f"json://127.0.0.1:{http.server_address[1]}/alerts"
    try:
        yield received
    finally:
        smtp.stop()
        http.shutdown()
        http.server_close()
