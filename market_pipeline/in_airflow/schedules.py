"""How the recurring DAGs (the live fetch and the watchdog) run: on a fixed cadence from now on,
one run at a time, and never backfilled: the past is `market_bars_history`'s job, so Airflow
refuses a backfill of them (it would repeat a now-only check or fetch for every past interval)."""

from __future__ import annotations

from datetime import UTC, datetime

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def recurring() -> dict:
    """The `@dag` arguments, beside its `schedule`, of a DAG that runs from now on, one run at a
    time, scheduled or triggered but never backfilled."""
    return {"start_date": START_DATE, "catchup": False, "max_active_runs": 1,
            "allowed_run_types": ["scheduled", "manual"]}
