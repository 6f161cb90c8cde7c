"""The tasks that end every DAG that publishes bars: a backlog check, then the Spark drain, which
also brings the reporting layer level with what it loaded. The live DAG's fetch checks the backlog
itself, one task start less every 90 seconds.

Shared by `market_bars_pipeline` and `market_bars_history`, so both launch the
drain the same way, and both in the one-slot `warehouse_drain` pool: whatever
DAG, run or backfill publishes, only one drain runs on a checkpoint at a time.
"""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import task

from market_pipeline.in_airflow import tasks
from market_pipeline.in_airflow.connections import spark_connect_url
from market_pipeline.in_airflow.params import RunTarget, load_config
from market_pipeline.load import spark_connect
from market_pipeline.load.drain_submit import DRAIN_APP, DrainSubmit
from market_pipeline.settings import (
    CHECKPOINTS_DIR,
    DRAIN_POOL,
    JOB_PACKAGE_ZIP,
    KAFKA_CONN_ID,
    PROJECT_ROOT,
    SPARK_CONN_ID,
)


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


class DrainOperator(SparkSubmitOperator):
    """SparkSubmitOperator that runs the drain where the `drain_session` setting says:

    - `connect` (the default): a session on the long-lived Spark Connect server of the run's
      `spark_connect_conn_id`, checked first, so a server that is down fails the try at once
      with its name and address (the last try's alert carries that line). spark-submit's JVM
      then hosts only the Python driver (`--master` is still passed: the provider always does).
    - `per_run`: a Spark of the launch's own on the master of the run's `spark_conn_id`
      (`spark_default` unless a run says otherwise: a test points its run at a cluster of its own).

    Either way it zips the `market_pipeline` package at launch and passes it with `--py-files`:
    against a standalone master the executors run on other machines and find the same code as the
    driver there (the drain's executors run JVM code only, the Kafka read and the parse; Python on
    an executor imports the package from the zip: tests/integration/test_spark_cluster.py).
    Zipped at every launch, so it is never stale.

    When the job has loaded, it brings the reporting layer level with the bars, in the same
    task: a task of its own cost another task start (1-3 s) in every 90-second run that drains."""

    def execute(self, context: Any) -> None:
        target = RunTarget.model_validate(context["params"])
        self._conn_id = target.spark_conn_id  # read by the hook that super().execute builds
        if load_config(target.config_variable).drain_session == "connect":
            url = spark_connect_url(target.spark_connect_conn_id)
            spark_connect.require_serving(url, target.spark_connect_conn_id)
            self.env_vars = {**self.env_vars, spark_connect.SPARK_CONNECT_URL_ENV: url}
            self.jars = None  # the server reads Kafka; the launch loads no connector (0.2 s less)
        package_job(JOB_PACKAGE_ZIP)
        self.py_files = str(JOB_PACKAGE_ZIP)
        before = tasks.batches_committed(target)["last_batch_id"]
        super().execute(context)
        # On the server the sink's own lines go to the server's log: say here what this launch loaded.
        loaded = tasks.batches_committed(target, before)
        self.log.info("%s: this launch committed batches: %s, messages: %s, bars upserted: %s, rows quarantined: %s",
                      target.query_name, loaded["batches"], loaded["messages"], loaded["bars_upserted"],
                      loaded["rows_quarantined"])
        tasks.refresh_reporting(target)


def package_job(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for module in sorted((PROJECT_ROOT / "market_pipeline").rglob("*.py")):
            archive.write(module, module.relative_to(PROJECT_ROOT))
