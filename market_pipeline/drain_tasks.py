"""The tasks that end every DAG that publishes bars: a backlog check, then the Spark drain, which
also refreshes the reporting layer's materialized views. The live DAG's fetch checks the backlog
itself, one task start less every 90 seconds.

Shared by `market_bars_pipeline` and `market_bars_history`, so both launch the
drain the same way, and both in the one-slot `warehouse_drain` pool: whatever
DAG, run or backfill publishes, only one drain runs on a checkpoint at a time.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import task

from market_pipeline import tasks
from market_pipeline.config import RunTarget
from market_pipeline.drain_submit import DRAIN_APP, DrainSubmit
from market_pipeline.operators import DrainOperator
from market_pipeline.settings import CHECKPOINTS_DIR, DRAIN_POOL, KAFKA_CONN_ID, SPARK_CONN_ID


def check_backlog_then_drain():
    """(check_backlog, drain_to_warehouse), chained; call inside a DAG and put the fetch before."""

    # Runs even when the fetch was skipped (daily limit): earlier bars may still wait in Kafka.
    # Measured in a CI run (2 busy cores, task start included): 3-6 s.
    @task.short_circuit(trigger_rule="none_failed", execution_timeout=timedelta(minutes=2))
    def check_backlog(params=None) -> bool:
        return tasks.has_backlog(RunTarget.model_validate(params))

    check = check_backlog()
    drain = drain_to_warehouse()
    check >> drain
    return check, drain


def drain_to_warehouse() -> DrainOperator:
    """The drain task; put a short-circuit backlog check before it."""
    launch = DrainSubmit(
        bootstrap_servers=f"{{{{ conn.{KAFKA_CONN_ID}.extra_dejson['bootstrap.servers'] }}}}",
        bars_topic="{{ params.bars_topic }}",
        dead_letter_topic="{{ params.dead_letter_topic }}",
        checkpoint=f"{CHECKPOINTS_DIR}/{{{{ params.query_name }}}}",
        query_name="{{ params.query_name }}",
        max_offsets_per_trigger="{{ var.json.get(params.config_variable).max_offsets_per_trigger }}",
        warehouse_uri="{{ conn.get(params.warehouse_conn_id).get_uri() }}",
    )
    return DrainOperator(
        task_id="drain_to_warehouse",
        pool=DRAIN_POOL,
        conn_id=SPARK_CONN_ID,
        application=DRAIN_APP,
        **launch.spark_submit_options(),
        # Measured in a CI run (2 busy cores, task start included): 60-81 s for a month of
        # history and 7-11 s for the refresh; 1M bars drain in ~35 s on an idle machine.
        execution_timeout=timedelta(minutes=20),
    )
