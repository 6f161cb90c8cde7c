"""The drain's long-lived Spark, without Spark: the check that names a server that is down, the
server's command line, the drain's environment, and the supervisor that restarts the server."""

import signal
import socket
import subprocess
import sys
import time

import pytest

from local_stack import spark_connect as supervisor
from local_stack.ports import free_port
from market_pipeline.load.drain_submit import DrainSubmit
from market_pipeline.load.spark_connect import (
    SERVER_CLASS,
    SPARK_CONNECT_URL_ENV,
    SparkConnectUnavailable,
    address,
    require_serving,
    server_command,
)


def test_the_address_comes_from_the_url_with_spark_connects_default_port():
    assert address("sc://127.0.0.1:15003/;token=secret") == ("127.0.0.1", 15003)
    assert address("sc://spark-connect/") == ("spark-connect", 15002)


def test_a_server_that_is_down_is_named_with_its_address_its_connection_and_the_fix():
    port = free_port()
    with pytest.raises(SparkConnectUnavailable) as raised:
        require_serving(f"sc://127.0.0.1:{port}/", "spark_connect_default", timeout=1)
    message = str(raised.value)
    for part in (f"Spark Connect server at 127.0.0.1:{port}", "connection spark_connect_default", "bin/stack start",
                 "drain_session"):
        assert part in message


def test_a_listening_server_passes_the_check():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        require_serving(f"sc://127.0.0.1:{server.getsockname()[1]}/", "spark_connect_default", timeout=1)


def test_the_server_binds_where_it_is_told_and_keeps_its_jit():
    command = server_command("spark-submit", "local[2]", "127.0.0.1", 15003)
    assert command[command.index("--class") + 1] == SERVER_CLASS
    assert command[command.index("--master") + 1] == "local[2]"
    assert {"spark.connect.grpc.binding.address=127.0.0.1", "spark.connect.grpc.binding.port=15003",
            "spark.sql.streaming.stopActiveRunOnRestart=true"} <= set(command)
    assert not any("TieredStopAtLevel" in part for part in command), "a long-lived JVM wants C2"
    assert command[-1] == "spark-internal"


def test_the_drain_gets_the_servers_url_in_its_environment_only_when_it_runs_there():
    launch = dict(bootstrap_servers="k:9092", bars_topic="b", dead_letter_topic="d", checkpoint="/c",
                  query_name="q", max_offsets_per_trigger="10", warehouse_uri="postgres://u:p@h/db")
    assert SPARK_CONNECT_URL_ENV not in DrainSubmit(**launch).env_vars()
    on_server = DrainSubmit(**launch, spark_connect_url="sc://127.0.0.1:15002/").env_vars()
    assert on_server[SPARK_CONNECT_URL_ENV] == "sc://127.0.0.1:15002/"
    assert not any("sc://" in arg for arg in DrainSubmit(**launch, spark_connect_url="sc://x/").application_args())
    assert "--jars" in DrainSubmit(**launch).command("spark-submit", "local[2]")
    assert "--jars" not in DrainSubmit(**launch, spark_connect_url="sc://x/").command("spark-submit", "local[2]"), \
        "the server reads Kafka: the launch needs no connector"


def test_the_supervisor_restarts_a_server_that_exits_and_gives_up_on_one_that_cannot_start(monkeypatch, tmp_path):
    monkeypatch.setattr(supervisor, "RESTART_DELAY_SECONDS", 0)
    starts = tmp_path / "starts"
    dies_at_once = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('start\\n'); raise SystemExit(3)"]
    assert supervisor.supervise(dies_at_once, tmp_path) == 1
    assert starts.read_text().count("start") == supervisor.GIVE_UP_AFTER


def test_the_supervisor_stops_its_server_on_sigterm_without_starting_it_again(tmp_path):
    marker = tmp_path / "started"
    server = tmp_path / "server.py"
    server.write_text(f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                                "from local_stack.spark_connect import supervise; "
                                "sys.exit(supervise([sys.executable, sys.argv[1]], Path(sys.argv[2])))",
                                str(server), str(tmp_path)])
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the server started"
    marker.unlink()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    time.sleep(0.5)
    assert not marker.exists(), "not started again"
