"""What the test suite must never change: the live stack's Airflow records, Kafka topics, warehouse
and checkpoints, read before and after the suite (`bin/stack test` stages 2 and 3).

    python -m tests.isolation.live_stack snapshot FILE

The live stack is found through the `environment` file `bin/stack start` writes in its state
folder (STOCKPIPE_LIVE_STATE_DIR). It may keep running its own schedule meanwhile: new scheduled
runs of an unpaused DAG are its own work, and when they made API calls, the bars, the topics'
offsets and the quota ledger may move with them. Anything else that differs is a difference.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient

from market_pipeline import kafka_io
from market_pipeline.settings import QUOTA_LEDGER_VARIABLE

SERVICES = ("postgres", "kafka", "airflow-api-server", "airflow-scheduler")


def live_state_dir() -> Path:
    return Path(os.environ["STOCKPIPE_LIVE_STATE_DIR"])


def _running(state_dir: Path, service: str) -> bool:
    pid_file = state_dir / "pids" / f"{service}.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    return True


def _environment(state_dir: Path) -> dict[str, str]:
    lines = (state_dir / "environment").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def snapshot(state_dir: Path) -> dict:
    checkpoints = state_dir / "checkpoints"
    found = {
        "running": all(_running(state_dir, service) for service in SERVICES) and (state_dir / "environment").exists(),
        "checkpoints": sorted(path.name for path in checkpoints.iterdir()) if checkpoints.exists() else [],
    }
    if found["running"]:
        environment = _environment(state_dir)
        found["airflow"] = _airflow(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", ""))
        found["kafka"] = _kafka(json.loads(environment["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"])
        found["warehouse"] = _warehouse(environment["AIRFLOW_CONN_WAREHOUSE"])
    return found


def _airflow(uri: str) -> dict:
    """From Airflow's metadata database: the REST API pages runs 100 at a time, and a live 90-second
    DAG has thousands."""
    with psycopg.connect(uri) as conn:
        rows = conn.execute("SELECT dag_id, run_id, run_type FROM dag_run").fetchall()
        runs: dict[str, dict[str, str]] = {}
        for dag_id, run_id, run_type in rows:
            runs.setdefault(dag_id, {})[run_id] = run_type
        return {
            "paused": dict(conn.execute("SELECT dag_id, is_paused FROM dag").fetchall()),
            "runs": runs,
            "backfills": conn.execute("SELECT count(*) FROM backfill").fetchone()[0],
            "variables": dict(conn.execute("SELECT key, val FROM variable").fetchall()),
            "pools": dict(conn.execute("SELECT pool, slots FROM slot_pool").fetchall()),
            "connections": sorted(row[0] for row in conn.execute("SELECT conn_id FROM connection")),
        }


def _kafka(config: dict[str, str]) -> dict:
    topics = sorted(name for name in AdminClient(config).list_topics(timeout=15).topics if not name.startswith("__"))
    ends = kafka_io.end_offsets(config, topics)
    return {topic: sum(end for (name, _), end in ends.items() if name == topic) for topic in topics}


def _warehouse(uri: str) -> dict:
    with psycopg.connect(uri) as conn:
        def column(sql: str) -> list:
            return sorted(row[0] for row in conn.execute(sql))

        return {
            "databases": column("SELECT datname FROM pg_database WHERE NOT datistemplate"),
            "tables": column("SELECT schemaname || '.' || tablename FROM pg_tables "
                             "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
            "drain_queries": column("SELECT query_name FROM market.ingest_offsets "
                                    "UNION SELECT query_name FROM market.ingest_batches"),
            "api_calls": {f"{dag_id} {run_id}": count for dag_id, run_id, count in conn.execute(
                "SELECT dag_id, run_id, count(*) FROM market.api_calls GROUP BY 1, 2")},
            "bars": conn.execute("SELECT count(*) FROM market.bars").fetchone()[0],
        }


def differences(before: dict, after: dict) -> list[str]:
    """What changed between two snapshots that the live stack's own schedule does not explain."""
    found = [f"{what}: {before.get(what)!r} before, {after.get(what)!r} after"
             for what in ("running", "checkpoints") if before.get(what) != after.get(what)]
    if found or not before["running"]:
        return found
    airflow_before, airflow_after = before["airflow"], after["airflow"]
    found += _changed("paused DAGs", airflow_before["paused"], airflow_after["paused"])
    own_runs = set()
    for dag_id in sorted(set(airflow_before["runs"]) | set(airflow_after["runs"])):
        runs_before, runs_after = airflow_before["runs"].get(dag_id, {}), airflow_after["runs"].get(dag_id, {})
        if gone := sorted(set(runs_before) - set(runs_after)):
            found.append(f"runs of {dag_id} deleted: {gone}")
        unpaused = not airflow_before["paused"].get(dag_id, True) and not airflow_after["paused"].get(dag_id, True)
        for run_id in sorted(set(runs_after) - set(runs_before)):
            if runs_after[run_id] == "scheduled" and unpaused:
                own_runs.add(f"{dag_id} {run_id}")
            else:
                found.append(f"run {run_id} of {dag_id} added ({runs_after[run_id]}, not the live schedule's)")
    found += _changed("backfills", airflow_before["backfills"], airflow_after["backfills"])

    warehouse_before, warehouse_after = before["warehouse"], after["warehouse"]
    new_calls = {run: count for run, count in warehouse_after["api_calls"].items()
                 if count != warehouse_before["api_calls"].get(run)}
    if strangers := sorted(set(new_calls) - own_runs):
        found.append(f"API calls on the live key by runs that are not the live schedule's: {strangers}")
    live_fetched = bool(new_calls)

    ledger = {QUOTA_LEDGER_VARIABLE: None} if live_fetched else {}  # the live fetch writes it
    found += _changed("Variables", {**airflow_before["variables"], **ledger}, {**airflow_after["variables"], **ledger})
    for what in ("pools", "connections"):
        found += _changed(what, airflow_before[what], airflow_after[what])
    if live_fetched:
        found += _changed("Kafka topics", sorted(before["kafka"]), sorted(after["kafka"]))
    else:
        found += _changed("Kafka topics (name: messages)", before["kafka"], after["kafka"])
    for what in ("databases", "tables", "drain_queries") + (() if live_fetched else ("bars",)):
        found += _changed(f"warehouse {what}", warehouse_before[what], warehouse_after[what])
    return found


def _changed(what: str, before, after) -> list[str]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
        return [f"{what}: {key} was {before.get(key)!r}, is {after.get(key)!r}" for key in keys]
    return [f"{what}: {before!r} before, {after!r} after"]


if __name__ == "__main__":
    [command, path] = sys.argv[1:]
    assert command == "snapshot", "usage: python -m tests.isolation.live_stack snapshot FILE"
    Path(path).write_text(json.dumps(snapshot(live_state_dir()), indent=1, sort_keys=True))
