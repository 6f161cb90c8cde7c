"""
### Market bars pipeline

Every 90 seconds: fetch new intraday bars from Alpha Vantage within the day's
quota, publish them to Kafka, and drain Kafka into the Postgres warehouse with
a Spark Structured Streaming job (`Trigger.AvailableNow`, exactly once).

The decision that matters: a `spark-submit` costs about 10 s of JVM start, so
`check_backlog` compares Kafka's end offsets with the offsets the warehouse has
committed and skips the drain when there is nothing new.  Runs share a topic
and a checkpoint, hence `max_active_runs=1`.  Migrations run at start and
deploy (`bin/stack start`), not every 90 seconds.

The params say where a run works; their defaults are the live pipeline.
"""

from datetime import UTC, datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import dag, task

from market_pipeline import tasks
from market_pipeline.alerts import FailureAlert
from market_pipeline.config import RunTarget, run_params
from market_pipeline.settings import (
    ALPHAVANTAGE_POOL,
    CHECKPOINTS_DIR,
    KAFKA_CONN_ID,
    SPARK_APPS_DIR,
    SPARK_CONN_ID,
    SPARK_KAFKA_JARS,
)


@dag(
    schedule=timedelta(seconds=90),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "market-data",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": FailureAlert(),
    },
    params=run_params(),
    tags=["market-data", "alphavantage", "kafka", "spark"],
    doc_md=__doc__,
)
def market_bars_pipeline():
    @task(pool=ALPHAVANTAGE_POOL)
    def fetch_bars(params=None, ti=None) -> dict:
        run = {"dag_id": ti.dag_id, "run_id": ti.run_id, "try_number": ti.try_number}
        return tasks.fetch_bars(RunTarget.model_validate(params), run)

    # Runs even when the fetch was skipped (daily limit): earlier bars may still wait in Kafka.
    @task.short_circuit(trigger_rule="none_failed")
    def check_backlog(params=None) -> bool:
        return tasks.has_backlog(RunTarget.model_validate(params))

    drain_to_warehouse = SparkSubmitOperator(
        task_id="drain_to_warehouse",
        conn_id=SPARK_CONN_ID,
        application=str(SPARK_APPS_DIR / "drain_bars_to_warehouse.py"),
        name="{{ params.query_name }}",
        jars=SPARK_KAFKA_JARS,
        application_args=[
            "--bootstrap-servers", f"{{{{ conn.{KAFKA_CONN_ID}.extra_dejson['bootstrap.servers'] }}}}",
            "--bars-topic", "{{ params.bars_topic }}",
            "--dead-letter-topic", "{{ params.dead_letter_topic }}",
            "--checkpoint", f"{CHECKPOINTS_DIR}/{{{{ params.query_name }}}}",
            "--query-name", "{{ params.query_name }}",
            "--max-offsets-per-trigger",
            "{{ var.json.get(params.config_variable).max_offsets_per_trigger }}",
        ],
        # The URI carries the password: environment, not argv.
        env_vars={"WAREHOUSE_URI": "{{ conn.get(params.warehouse_conn_id).get_uri() }}"},
        conf={"spark.driver.memory": "1g"},
    )

    fetch_bars() >> check_backlog() >> drain_to_warehouse


market_bars_pipeline()
