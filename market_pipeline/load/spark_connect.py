"""The long-lived Spark the drain runs on by default: a Spark Connect server, started once by
`bin/stack start` (or compose), whose JVM, Spark session and JIT stay warm between runs.

A drain launched by spark-submit against it builds no SparkContext: the spark-submit JVM only
hosts the Python driver, which opens a session on the server (`SPARK_CONNECT_URL_ENV`); the query,
its checkpoint and the `foreachBatch` sink run in the server and in a Python worker beside it,
which imports this package from the server's environment afresh for every query.

Measured on this 2-core machine kind: a per-run Spark costs 17-27 s to start; the server takes
about 6 s once, then a drain's session opens in about a second.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from market_pipeline.settings import SPARK_KAFKA_JARS

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# The server holds one batch at a time (`max_offsets_per_trigger` messages) as Arrow for the sink's
# worker: 1 GB of heap held 200k-message batches with room to spare (bench: throughput section).
# No UI on a shared box; C2 stays on: this JVM lives for days, so optimised code pays back.
SERVER_SPARK_CONF = {
    "spark.driver.memory": "1g",
    # Resident for days, busy for seconds a run: G1 collects after 15 s without a collection and
    # gives the heap it no longer needs back to the system, so at rest it costs what it holds.
    "spark.driver.extraJavaOptions": "-XX:G1PeriodicGCInterval=15000 -XX:MinHeapFreeRatio=10 "
                                     "-XX:MaxHeapFreeRatio=30",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # A retried drain whose previous try still runs on the server (its spark-submit was killed,
    # the query was not) takes over the checkpoint instead of failing.
    "spark.sql.streaming.stopActiveRunOnRestart": "true",
}
# The drain's environment variable that carries the server's URL (it may hold a token: not argv).
SPARK_CONNECT_URL_ENV = "SPARK_CONNECT_URL"
# How long a drain waits for the server's port before it says the service is down.
CONNECT_TIMEOUT_SECONDS = 5.0


class SparkConnectUnavailable(RuntimeError):
    """The Spark Connect server does not answer: the drain cannot start."""


def server_command(spark_submit: str, master: str, host: str, port: int) -> list[str]:
    """spark-submit's argv that becomes the server (it runs until stopped)."""
    conf = {**SERVER_SPARK_CONF, "spark.connect.grpc.binding.address": host,
            "spark.connect.grpc.binding.port": str(port)}
    return [spark_submit, "--master", master, "--name", "spark-connect", "--class", SERVER_CLASS,
            *(option for name, value in conf.items() for option in ("--conf", f"{name}={value}")),
            "--jars", SPARK_KAFKA_JARS, "spark-internal"]


def address(url: str) -> tuple[str, int]:
    """(host, port) of an `sc://host:port/;params` URL (Spark Connect's default port is 15002)."""
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or 15002


def require_serving(url: str, conn_id: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise SparkConnectUnavailable, naming the service, its address and the fix, unless the
    server at `url` accepts a connection."""
    host, port = address(url)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise SparkConnectUnavailable(
            f"the Spark Connect server at {host}:{port} (connection {conn_id}) is not answering ({error}): "
            "start it with `bin/stack start`, or set drain_session to per_run in the market_data_config "
            "Variable") from None
