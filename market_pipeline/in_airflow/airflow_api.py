"""A small client of Airflow 3's REST API (v2), the way a user's tools talk to Airflow.

Used by `bin/stack` (pools, Variables, triggering the demo run), the end-to-end tests, the drills
and the benchmark. The CLI costs about 2 s per call; a REST call a few ms.

Why not `apache-airflow-client` (3.3.2 installs cleanly against constraints.txt; tried):
- Its callers here read fields of the JSON and HTTP statuses across a dozen endpoints (404 means
  "absent, create it"); the generated client turns each into a model class or an ApiException, so
  every one of about 40 call sites would grow, and nothing here would shrink.
- Its models validate every response against its own copy of the spec, so it must move in
  lockstep with the api-server, and a mismatch breaks reads that raw JSON survives
  (apache/airflow-client-python#137).
- It does not log in: its README fetches the simple auth manager's token from /auth/token with
  `requests`, as `AirflowApi.__init__` does.
Revisit when product code, not tooling, starts calling the API: typed models would pay there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from tenacity import Retrying, retry_if_not_result, stop_after_delay, wait_fixed

TERMINAL_RUN_STATES = {"success", "failed"}
T = TypeVar("T")


class AirflowApiError(Exception):
    pass


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float,
         timed_out: Callable[[T], str]) -> T:
    """`read()` each second until `done` holds for what it returned; after `timeout_seconds`,
    AirflowApiError(`timed_out(last read)`). An error raised by `read` ends the wait at once."""

    def give_up(state) -> T:
        raise AirflowApiError(timed_out(state.outcome.result()))

    return Retrying(retry=retry_if_not_result(done), wait=wait_fixed(1), stop=stop_after_delay(timeout_seconds),
                    retry_error_callback=give_up)(read)


class AirflowApi:
    def __init__(self, base_url: str, username: str, password: str, timeout_seconds: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._session = requests.Session()
        response = self._session.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=timeout_seconds
        )
        if response.status_code >= 300:
            raise AirflowApiError(f"login as {username} failed: HTTP {response.status_code} {response.text[:200]}")
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @classmethod
    def from_environment(cls) -> AirflowApi:
        """The api-server of `bin/stack` (AIRFLOW__API__BASE_URL), as the simple auth manager's admin."""
        username, password = admin_login()
        return cls(os.environ["AIRFLOW__API__BASE_URL"], username, password)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._session.request(method, f"{self.base_url}/api/v2/{path}", timeout=self._timeout, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise AirflowApiError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        """The file's slots win: a pool is infrastructure, not a setting edited in the UI."""
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        if self.request("GET", f"pools/{name}").status_code == 404:
            self.call("POST", "pools", json=body)
        else:
            self.call("PATCH", f"pools/{name}", json=body)

    def variable(self, key: str) -> str | None:
        """The Variable's value as stored (JSON Variables as text), None when it does not exist."""
        response = self.request("GET", f"variables/{key}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["value"]

    def set_variable(self, key: str, value: str) -> None:
        """Write the Variable's value as text, creating it when missing."""
        body = {"key": key, "value": value}
        response = self.request("PATCH", f"variables/{key}", json=body)
        if response.status_code == 404:
            self.call("POST", "variables", json=body)
        elif response.status_code >= 300:
            raise AirflowApiError(f"PATCH variables/{key}: HTTP {response.status_code} {response.text[:300]}")

    def ensure_variable(self, key: str, value: Any) -> bool:
        """Create the Variable if missing (edits made since in the UI are kept); True if created."""
        if self.variable(key) is not None:
            return False
        self.call("POST", "variables", json={"key": key, "value": json.dumps(value, indent=2)})
        return True

    def wait_for_dag(self, dag_id: str, timeout_seconds: float = 120) -> None:
        """Until the dag-processor has parsed the DAG; an import error fails at once."""

        def parsed() -> bool:
            if self.request("GET", f"dags/{dag_id}").status_code != 404:
                return True
            if errors := self.call("GET", "importErrors")["import_errors"]:
                raise AirflowApiError(f"DAG import errors: {errors}")
            return False

        poll(parsed, bool, timeout_seconds, lambda _: f"DAG {dag_id} not parsed within {timeout_seconds} s")

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, *, ahead_of_schedule: bool = False) -> str:
        """A manual run. `ahead_of_schedule`: queued before the next scheduled run, which the
        scheduler may create as soon as the DAG is unpaused with an earlier `run_after` (queued
        runs start in `run_after` order, one at a time under max_active_runs=1)."""
        now = datetime.now(UTC)
        # Named by the trigger's own time: Airflow would name it by run_after, which two triggers
        # ahead of the same scheduled run share.
        body: dict[str, Any] = {"dag_run_id": f"manual__{now.isoformat()}", "logical_date": None, "conf": conf or {}}
        if ahead_of_schedule:
            scheduled = self.call("GET", f"dags/{dag_id}").get("next_dagrun_run_after")
            first = min(now, datetime.fromisoformat(scheduled)) if scheduled else now
            body["run_after"] = (first - timedelta(seconds=1)).isoformat()
        return self.call("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def pause(self, dag_id: str) -> None:
        self.call("PATCH", f"dags/{dag_id}", json={"is_paused": True})

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value, or None when it pushed none."""
        response = self.request("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        return response.json()["value"] if response.status_code == 200 else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout_seconds: float = 600) -> dict:
        return poll(lambda: self.call("GET", f"dags/{dag_id}/dagRuns/{run_id}"),
                    lambda run: run["state"] in TERMINAL_RUN_STATES, timeout_seconds,
                    lambda run: f"run {run_id} still {run['state']} after {timeout_seconds} s")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """Task states in the order the tasks started (those that never ran last)."""
        instances = self.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        instances.sort(key=lambda ti: (ti["start_date"] is None, ti["start_date"] or ""))
        return {ti["task_id"]: ti["state"] for ti in instances}


def admin_login() -> tuple[str, str]:
    """The simple auth manager writes its generated passwords here at the api-server's first start."""
    path = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    [(username, password)] = json.loads(path.read_text()).items()
    return username, password


class RestVariable:
    """A Variable read and written through the REST API: the quota ledger's counters for the CLI
    and the tests, outside a task (`market_pipeline.fetch.ledger_store.QuotaVariable`)."""

    def __init__(self, api: AirflowApi, name: str) -> None:
        self.api, self.name = api, name

    def get(self) -> str | None:
        return self.api.variable(self.name)

    def set(self, value: str) -> None:
        self.api.set_variable(self.name, value)

    def verify(self) -> None:
        """The REST API answers a rejected write with an error: nothing to read back."""
