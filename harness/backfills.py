"""Airflow backfills of the history DAG on a sandbox, through the REST API (what `airflow backfill
create` and the UI's Backfill dialog do), and waiting for them."""

from __future__ import annotations

from dataclasses import dataclass

from harness.waits import wait_for
from market_pipeline.in_airflow.airflow_api import AirflowApi

HISTORY = "market_bars_history"


@dataclass(frozen=True)
class Backfill:
    id: int
    first: str
    last: str


def forget_runs(api: AirflowApi, first: str, last: str) -> None:
    """Runs are keyed by logical date: delete what earlier test sessions left in these months."""
    for run in history_runs(api, first, last):
        api.call("DELETE", f"dags/{HISTORY}/dagRuns/{run['dag_run_id']}")


def history_runs(api: AirflowApi, first: str, last: str) -> list[dict]:
    runs = api.call("GET", f"dags/{HISTORY}/dagRuns?limit=100&logical_date_gte={first}T00:00:00Z"
                           f"&logical_date_lte={last}T00:00:00Z")["dag_runs"]
    return sorted(runs, key=lambda run: run["logical_date"])


def start_backfill(api: AirflowApi, target, first: str, last: str, **options) -> Backfill:
    """What `airflow backfill create` and the UI's Backfill dialog do, through the REST API."""
    backfill = api.call("POST", "backfills", json={
        "dag_id": HISTORY, "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
        "dag_run_conf": target.model_dump(mode="json"), "max_active_runs": 3, **options})
    api.unpause(HISTORY)
    return Backfill(backfill["id"], first, last)


def backfill(api: AirflowApi, target, first: str, last: str, **options) -> list[dict]:
    return wait_for_backfill(api, start_backfill(api, target, first, last, **options))


def wait_for_backfill(api: AirflowApi, backfill: Backfill, timeout: float = 900, seen: set | None = None) -> list:
    """Until Airflow marks the backfill completed; then the runs of its months."""
    runs = []

    def completed() -> bool:
        runs[:] = history_runs(api, backfill.first, backfill.last)
        if seen is not None:
            for run in runs:
                seen.update(api.task_states(HISTORY, run["dag_run_id"]).values())
        return api.call("GET", f"backfills/{backfill.id}")["completed_at"] is not None

    wait_for(completed, timeout, lambda: f"backfill {backfill.id} still running: {runs}", interval=1)
    return runs
