"""The stack's Spark Connect server, supervised: started again whenever it dies (a kill -9, a JVM
out of memory), so a failed drain finds it back by its retry. A server that dies within
`QUICK_DEATH_SECONDS` of its start `GIVE_UP_AFTER` times in a row is broken, not unlucky: the
supervisor then exits, and `bin/stack start` or the drain says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from market_pipeline.load.spark_connect import server_command

RESTART_DELAY_SECONDS = 2.0
QUICK_DEATH_SECONDS = 30.0
GIVE_UP_AFTER = 3


def command(host: str, port: int, master: str) -> list[str]:
    return server_command(str(Path(sys.executable).parent / "spark-submit"), master, host, port)


def supervise(argv: list[str], work_dir: Path) -> int:
    """Run `argv` in `work_dir` until SIGTERM or SIGINT; restart it when it exits on its own."""
    server: subprocess.Popen | None = None
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if server is not None and server.poll() is None:
            server.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    quick_deaths = 0
    while not stopping:
        started = time.monotonic()
        server = subprocess.Popen(argv, cwd=work_dir)
        code = server.wait()
        if stopping:
            break
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
        if quick_deaths >= GIVE_UP_AFTER:
            print(f"[spark-connect] the server died {quick_deaths} times within {QUICK_DEATH_SECONDS:g} s "
                  f"of its start (last exit {code}): giving up", file=sys.stderr, flush=True)
            return 1
        print(f"[spark-connect] the server exited ({code}): starting it again in {RESTART_DELAY_SECONDS:g} s",
              file=sys.stderr, flush=True)
        time.sleep(RESTART_DELAY_SECONDS)
    return 0


def run_from_environment(state_dir: Path) -> None:
    """Supervise the server at STACK_HOST:SPARK_CONNECT_PORT on SPARK_CONNECT_MASTER, working in
    STATE_DIR/spark (where Spark leaves its scratch folders)."""
    work_dir = state_dir / "spark"
    work_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(supervise(command(os.environ["STACK_HOST"], int(os.environ["SPARK_CONNECT_PORT"]),
                               os.environ.get("SPARK_CONNECT_MASTER", "local[*]")), work_dir))
