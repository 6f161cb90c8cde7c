"""Section 5: the live cycle, runs of `market_bars_pipeline` executed by the stack's own scheduler.

Each run works in a sandbox (`harness.sandbox.sandbox`, as the
end-to-end tests do): its own simulator on a virtual clock at a trading
Tuesday, API connection, config and ledger Variables, topics, drain query and
warehouse database (the run's scratch database). A run of the DAG only works
there when its params say so, and a scheduled run has the live params: so
each measured run is created through the REST API with the sandbox's params
and a `run_after` a moment ahead, and the scheduler starts it when that time
comes, as it starts a scheduled run (queued runs start once
`run_after <= now()`). That `run_after` is the run's scheduled time; every
latency is measured from it.

- fetch runs: a premium realtime key, the clock 5 minutes on before each
  run, so every run fetches one new bar per symbol, publishes, drains and
  refreshes; latency until the run's drain batch is committed (its bars can
  be queried; polled every 0.1 s) and until the run is done, and the CPU
  time the whole stack spent on the run (every service's process tree,
  `bench.memory.cpu_seconds`); one series per drain session
  (`drain_session` per_run, then connect), side by side, each with the
  peak memory of every component;
- no-fetch runs: the same sandbox as a free key (entitlement `none`) during
  the session, nothing due: latency until the run is done.

One warm-up run (the first fetch of each symbol, the first task after a
quiet spell, the Spark Connect server's first query) goes first and is not
counted (the smoke skips it). At the end, the DAG idle for a minute, the PSS of
every component: the stack's memory at rest. Before each
run the benchmark waits until no run of the DAG is queued or running and the
live schedule's next run is not due within the next seconds. A run that had
to wait for another run of the DAG (the live schedule's, a test's), or whose
DAG someone paused meanwhile (a test's teardown: the benchmark unpauses it),
is recorded as disturbed and replaced, up to as many extra runs again. The
DAG's pause state is restored at the end.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import psutil
import psycopg

from bench.measure import progress
from bench.memory import Group, ProcessTable, cpu_seconds, peak_memory, pidfile_tree, pss_now
from bench.report import DRAIN_GROUP
from bench.throughput import DRAIN_SESSIONS
from harness.sandbox import Sandbox, airflow_with, sandbox
from harness.waits import wait_until
from market_pipeline import kafka_io
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.settings import STATE_DIR
from market_pipeline.simulator import SimulatorOptions

DAG_ID = "market_bars_pipeline"
# A trading Tuesday, 11:00 US/Eastern: well inside the regular session.
SESSION_START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
PREMIUM_QUOTA = {"per_day": None, "per_minute": 75, "per_second": 5}
NEW_BAR_EVERY = timedelta(minutes=5)
SCHEDULE = timedelta(seconds=90)
SCHEDULED_AHEAD_SECONDS = 2.0
POLL_WAREHOUSE_SECONDS = 0.1
POLL_RUN_SECONDS = 0.5
RUN_TIMEOUT_SECONDS = 600
# The services' trees hold ~30 processes: a sample costs ~30 ms, reading their PSS ~250 ms, which
# at the throughput sections' pace would take a good part of a core from the runs it times.
COMPONENT_SAMPLE_EVERY_SECONDS = 0.5
COMPONENT_PSS_EVERY_SAMPLES = 10
COMPONENTS = ("airflow-scheduler", "airflow-api-server", "airflow-dag-processor", "airflow-triggerer", "kafka",
              "postgres", "simulator", "spark-connect")
# After the last run, before the stack's memory at rest is read: its task processes have ended,
# and the Spark Connect server has given back the heap it no longer needs (G1's periodic
# collection, SERVER_SPARK_CONF: measured 40-60 s after a drain).
SETTLE_SECONDS = 60


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between the nearest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _stats(values: list[float]) -> dict:
    return {"median_seconds": round(statistics.median(values), 3) if values else None,
            "p95_seconds": round(percentile(values, 0.95), 3) if values else None,
            "min_seconds": round(min(values), 3) if values else None,
            "max_seconds": round(max(values), 3) if values else None}


def _summary(runs: list[dict], figures: tuple[str, ...]) -> dict:
    """Statistics of the undisturbed runs; of all of them, flagged, when every run was disturbed
    (a test pausing the DAG again and again beside a smoke run)."""
    undisturbed = [run for run in runs if not run["disturbed_by"]]
    counted = undisturbed or runs
    return {**{figure: _stats([run[f"{figure}_seconds"] for run in counted]) for figure in figures},
            "runs": len(counted), "disturbed": len(runs) - len(undisturbed), "from_disturbed_runs": not undisturbed}


def _services() -> dict[str, Group]:
    return {name: pidfile_tree(STATE_DIR / "pids" / f"{name}.pid") for name in COMPONENTS}


def _component_groups() -> dict[str, Group]:
    groups = _services()
    scheduler = groups["airflow-scheduler"]

    def drains(table: ProcessTable) -> list[psutil.Process]:
        """The drains the scheduler's tasks launched: spark-submit's JVM and its Python driver."""
        found = []
        for process in scheduler(table):
            try:
                if "org.apache.spark.deploy.SparkSubmit" in process.cmdline():
                    found.extend(table.tree(process.pid))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    return {**groups, DRAIN_GROUP: drains}


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


class CycleRunner:
    def __init__(self, api: AirflowApi, box: Sandbox) -> None:
        self.api, self.box = api, box
        self.services = list(_services().values())
        self.warehouse = psycopg.connect(box.warehouse_uri, autocommit=True)

    def _batches(self) -> tuple[int, int]:
        """(batches, messages) the sandbox's drain has committed."""
        [row] = self.warehouse.execute("SELECT count(*), coalesce(sum(messages), 0) FROM market.ingest_batches "
                                       "WHERE query_name = %s", (self.box.target.query_name,)).fetchall()
        return row

    def _keep_unpaused(self) -> bool:
        """Unpause the DAG if someone paused it (a test's teardown does): a paused DAG's queued runs
        never start and its running ones stop being scheduled. True if it was paused."""
        if not self.api.call("GET", f"dags/{DAG_ID}")["is_paused"]:
            return False
        self.api.unpause(DAG_ID)
        return True

    def _wait_until_idle(self) -> None:
        """Until no run of the DAG is queued or running (a live scheduled run queued behind ours)."""
        def idle() -> bool:
            if not self.api.call("GET", f"dags/{DAG_ID}/dagRuns",
                                 params={"state": ["queued", "running"], "limit": 1})["total_entries"]:
                return True
            self._keep_unpaused()
            return False

        if not wait_until(idle, RUN_TIMEOUT_SECONDS, interval=POLL_RUN_SECONDS):
            raise RuntimeError(f"{DAG_ID} still has runs queued or running after {RUN_TIMEOUT_SECONDS} s")

    def _scheduled_time(self) -> datetime:
        """A moment just ahead, with the DAG idle and no live scheduled run due before it."""
        while True:
            self._keep_unpaused()
            self._wait_until_idle()
            now = datetime.now(UTC)
            moment = now + timedelta(seconds=SCHEDULED_AHEAD_SECONDS)
            live = _parse(self.api.call("GET", f"dags/{DAG_ID}").get("next_dagrun_run_after"))
            if live is None or live > moment + timedelta(seconds=1):
                return moment
            # Due before ours, or overdue (the DAG was paused): let the scheduler create and finish it.
            time.sleep(max(0.0, (live - now).total_seconds()) + 1)

    def run(self, fetches: bool) -> dict:
        """One run, from its scheduled time until its bars are committed (fetch runs) and it is done."""
        (batches_before, messages_before), calls_before = self._batches(), self.box.simulator.requests_served
        scheduled = self._scheduled_time()
        cpu_before = cpu_seconds(self.services)
        run_id = self.api.call("POST", f"dags/{DAG_ID}/dagRuns", json={
            "logical_date": None, "run_after": scheduled.isoformat(),
            "conf": self.box.target.model_dump(mode="json")})["dag_run_id"]
        try:
            run, visible_at, paused = self._wait_for(run_id, fetches, batches_before)
            cpu = cpu_seconds(self.services) - cpu_before
        except BaseException:
            # Not left behind for a scheduler to resume once the sandbox is gone.
            self.api.request("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
            raise
        batches, messages = self._batches()
        calls = self.box.simulator.requests_served - calls_before
        # Judged by what the run did (API calls, batches committed), not by the DAG's task ids.
        if run["state"] != "success" or (fetches and not (calls and visible_at)) \
                or (not fetches and (calls or batches > batches_before)):
            raise RuntimeError(f"run {run_id} is not a {'fetch' if fetches else 'no-fetch'} run: {run['state']}, "
                               f"{calls} API calls, {batches - batches_before} batches committed")
        return self._report(run_id, run, scheduled, visible_at, paused) | {
            "calls": calls, "messages_drained": messages - messages_before, "cpu_seconds": round(cpu, 3)}

    def _wait_for(self, run_id: str, fetches: bool, batches_before: int) -> tuple[dict, datetime | None, bool]:
        """Until the run ends: (the run, when its first batch was seen committed, whether the DAG had
        to be unpaused meanwhile)."""
        visible_at, paused = None, False
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        next_run_check = 0.0
        while True:
            if fetches and visible_at is None and self._batches()[0] > batches_before:
                visible_at = datetime.now(UTC)
            if time.monotonic() >= next_run_check:
                run = self.api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")
                if run["state"] in ("success", "failed"):
                    return run, visible_at, paused
                paused = self._keep_unpaused() or paused
                next_run_check = time.monotonic() + POLL_RUN_SECONDS
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} still {run['state']} after {RUN_TIMEOUT_SECONDS} s")
            time.sleep(POLL_WAREHOUSE_SECONDS)

    def _report(self, run_id: str, run: dict, scheduled: datetime, visible_at: datetime | None,
                was_paused: bool) -> dict:
        instances = self.api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
        tasks = {ti["task_id"]: {"state": ti["state"], "start": ti["start_date"], "end": ti["end_date"],
                                 "seconds": ti["duration"]} for ti in instances}
        started, ended = _parse(run["start_date"]), _parse(run["end_date"])
        others = self.api.call("GET", f"dags/{DAG_ID}/dagRuns",
                               params={"order_by": "-run_after", "limit": 20})["dag_runs"]
        waited_for = [other["dag_run_id"] for other in others if other["dag_run_id"] != run_id
                      and other["start_date"] and _parse(other["start_date"]) < started
                      and (other["end_date"] is None or _parse(other["end_date"]) > scheduled)]
        return {
            "run_id": run_id, "scheduled": scheduled.isoformat(), "started": run["start_date"],
            "bars_visible": visible_at.isoformat() if visible_at else None, "done": run["end_date"],
            "start_seconds": round((started - scheduled).total_seconds(), 3),
            "bars_visible_seconds": round((visible_at - scheduled).total_seconds(), 3) if visible_at else None,
            "done_seconds": round((ended - scheduled).total_seconds(), 3),
            "drain_task_seconds": tasks.get("drain_to_warehouse", {}).get("seconds"),
            "tasks": tasks, "disturbed_by": waited_for + (["dag paused by someone else"] if was_paused else []),
        }

    def series(self, count: int, fetches: bool, advance: timedelta, description: str) -> list[dict]:
        """`count` undisturbed runs (and the disturbed ones, up to `count` more)."""
        runs: list[dict] = []
        with progress(total=count, desc=description, unit="run") as bar:
            while sum(1 for run in runs if not run["disturbed_by"]) < count and len(runs) < 2 * count:
                self.box.advance(advance)
                runs.append(self.run(fetches))
                bar.update(0 if runs[-1]["disturbed_by"] else 1)
        return runs

    def close(self) -> None:
        self.warehouse.close()


def run(bootstrap: str, warehouse_uri: str, fetch_runs: int, idle_runs: int, warm_up: bool = True) -> dict:
    api = airflow_with(DAG_ID)
    paused_before = api.call("GET", f"dags/{DAG_ID}")["is_paused"]
    options = SimulatorOptions(per_second=PREMIUM_QUOTA["per_second"], per_minute=PREMIUM_QUOTA["per_minute"],
                               per_day=PREMIUM_QUOTA["per_day"], key_entitlement="realtime")
    with sandbox(api, bootstrap, warehouse_uri, start=SESSION_START, options=options, watchlist=WATCHLIST,
                 entitlement="realtime", quota=PREMIUM_QUOTA) as box:
        runner = CycleRunner(api, box)
        fetch, peaks = {}, {}
        try:
            api.unpause(DAG_ID)
            groups = _component_groups()
            first = runner.run(fetches=True) if warm_up else None
            for session in DRAIN_SESSIONS:
                box.set_config(drain_session=session)
                with peak_memory(groups, COMPONENT_SAMPLE_EVERY_SECONDS, COMPONENT_PSS_EVERY_SAMPLES) as peaks[session]:
                    fetch[session] = runner.series(fetch_runs, True, NEW_BAR_EVERY, f"cycle: fetch runs ({session})")
            box.set_config(entitlement="none")
            idle = runner.series(idle_runs, False, SCHEDULE, "cycle: no-fetch runs")
            time.sleep(SETTLE_SECONDS)
            at_rest = pss_now(_services())
        finally:
            runner.close()
            if paused_before:
                api.pause(DAG_ID)
            kafka_io.delete_topics(bootstrap, [box.target.bars_topic, box.target.dead_letter_topic])

    return {
        "dag_id": DAG_ID, "watchlist": WATCHLIST, "quota": PREMIUM_QUOTA,
        "fetch": {session: _summary(runs, ("bars_visible", "done", "drain_task", "cpu"))
                  for session, runs in fetch.items()},
        "no_fetch": _summary(idle, ("done",)),
        "memory": {session: {name: peak.as_dict() for name, peak in session_peaks.items()}
                   for session, session_peaks in peaks.items()},
        "pss_at_rest_mb": at_rest,
        "runs": {"warm_up": first, "fetch": fetch, "no_fetch": idle},
    }
