"""Drill `scheduler`: SIGKILL the stack's Airflow scheduler mid-run, restart it with
`bin/stack start`, and count.

The live DAG runs against a sandbox (warehouse on a private PostgreSQL, as in `drills.postgres`).
While its drain writes its first batch, the scheduler process (`.state/pids/airflow-scheduler.pid`)
is killed with SIGKILL; after DOWN_SECONDS `bin/stack start`, which starts whatever is not
running, brings it back. The run must then end, in success or failure, with no task left queued
or running; a follow-up run loads anything left, and the warehouse must hold exactly the bars the
simulator served. This disturbs the shared scheduler for about half a minute.

`bin/stack` takes a service for running when `kill -0` on its pid succeeds. A killed process
whose parent does not reap it stays a zombie, and `kill -0` succeeds on a zombie: the drill
reports whether the scheduler really came back, and if not, removes the stale pid file and
starts the stack again so the shared scheduler is not left down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from drills.airflow_runs import DAG_ID, airflow_api, dag_sandbox, start_run
from drills.counts import check_each_message_committed_once, check_warehouse_holds_served_bars
from drills.report import Report
from harness.sandbox import run_dag
from harness.services import private_postgres
from harness.waits import wait_until
from harness.warehouse import sink_transaction_open
from market_pipeline.in_airflow.connections import kafka_config
from market_pipeline.settings import PROJECT_ROOT, STATE_DIR

DOWN_SECONDS = 10
SCHEDULER_PID_FILE = STATE_DIR / "pids" / "airflow-scheduler.pid"
FINISHED_TASK_STATES = {"success", "failed", "skipped", "upstream_failed", "removed"}


def run(report: Report) -> None:
    api = airflow_api()
    bootstrap = kafka_config()["bootstrap.servers"]
    with private_postgres() as postgres, dag_sandbox(api, postgres.uri(), max_offsets_per_trigger=1_000) as (
            box, served):
        uri, query = postgres.uri(), box.target.query_name
        report.step(f"run {DAG_ID} on sandbox {query}, warehouse on private port {postgres.port}")
        running = start_run(box.target)
        if not wait_until(lambda: running.done() or sink_transaction_open(uri, query), 600, interval=0.02) \
                or running.done():
            raise RuntimeError("the run ended before the scheduler could be killed mid-drain")

        scheduler = int(SCHEDULER_PID_FILE.read_text())
        group = _process_group(scheduler)
        os.kill(scheduler, signal.SIGKILL)
        report.step(f"scheduler pid {scheduler} (parent {_parent(scheduler)}) SIGKILLed while the drain writes its "
                    f"first batch; {len(group) - 1} other processes in its group; restarting in {DOWN_SECONDS} s")
        time.sleep(DOWN_SECONDS)
        report.step(f"killed scheduler is now {_describe(scheduler)}; bin/stack start")
        _stack_start()
        restarted = int(SCHEDULER_PID_FILE.read_text())
        report.check("bin/stack start started a new scheduler", "a live process, not the killed pid",
                     "a live process, not the killed pid" if restarted != scheduler and _alive(restarted)
                     else f"pid {restarted}, {_describe(restarted)}")
        if restarted == scheduler:
            report.step(f"the pid file still names the killed scheduler ({_describe(scheduler)}): removing it and "
                        "starting the stack again, so the shared scheduler is not left down")
            SCHEDULER_PID_FILE.unlink()
            _stack_start()
        report.step(f"scheduler running as pid {SCHEDULER_PID_FILE.read_text().strip()}")

        run_id, state, states = running.result()
        report.step(f"run {run_id} ended {state['state']}: {states}")
        report.check("run ended cleanly: success or failed, no task left queued or running", True,
                     state["state"] in ("success", "failed") and set(states.values()) <= FINISHED_TASK_STATES)
        # Its LocalExecutor workers outlive it, idle for good (their queue's writer is gone), and
        # `bin/stack stop` ends only the new scheduler's group: end them here.
        left = [pid for pid in group if pid != scheduler and _alive(pid)]
        report.step(f"processes of the killed scheduler's group still alive: {len(left)} "
                    f"{[_command(pid) for pid in left]}; ending them")
        _end(left)

        run_id, state, states = run_dag(api, DAG_ID, box.target)
        report.step(f"follow-up run {run_id} ended {state['state']}: {states}")
        report.check("follow-up run state", "success", state["state"])
        check_warehouse_holds_served_bars(report, uri, served)
        check_each_message_committed_once(report, bootstrap, (box.target.bars_topic, box.target.dead_letter_topic),
                                          uri, query)


def _stack_start() -> None:
    result = subprocess.run([str(PROJECT_ROOT / "bin" / "stack"), "start"], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"bin/stack start failed: {result.stderr[-2000:]}")


def _end(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL whatever still runs 5 s later (idle LocalExecutor workers ignore SIGTERM)."""
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not any(_alive(pid) for pid in pids), 5)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state, ppid, pgrp, ...), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _describe(pid: int) -> str:
    fields = _stat(pid)
    return "gone" if fields is None else "a zombie (state Z)" if fields[0] == "Z" else f"running (state {fields[0]})"


def _parent(pid: int) -> str:
    fields = _stat(pid)
    return "?" if fields is None else f"{fields[1]} {_command(int(fields[1]))}"


def _process_group(pgid: int) -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[2]) == pgid]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()[:60]
    except (FileNotFoundError, ProcessLookupError):
        return "?"
