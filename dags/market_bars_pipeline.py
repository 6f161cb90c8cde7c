"""
### Market bars pipeline

Every 90 seconds: fetch new intraday bars from Alpha Vantage within the day's
quota, publish them to Kafka, and drain Kafka into the Postgres warehouse with
a Spark Structured Streaming job (`Trigger.AvailableNow`, exactly once).

The decision that matters: a `spark-submit` costs about 10 s of JVM start, so
`check_backlog` compares Kafka's end offsets with the offsets the warehouse has
committed and skips the drain when there is nothing new.  Runs share a topic
and a checkpoint, hence `max_active_runs=1`.
"""

from datetime import UTC, datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import dag, task

from market_pipeline import tasks
from market_pipeline.alerts import FailureAlert
from market_pipeline.settings import (
    ALPHAVANTAGE_POOL,
    BARS_TOPIC,
    CHECKPOINTS_DIR,
    DEAD_LETTER_TOPIC,
    DRAIN_QUERY_NAME,
    KAFKA_CONN_ID,
    SPARK_APPS_DIR,
    SPARK_CONN_ID,
    SPARK_KAFKA_JARS,
    WAREHOUSE_CONN_ID,
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
    tags=["market-data", "alphavantage", "kafka", "spark"],
    doc_md=__doc__,
)
def market_bars_pipeline():
    @task
    def migrate_warehouse() -> list[str]:
        return tasks.migrate_warehouse()

    @task(pool=ALPHAVANTAGE_POOL)
    def fetch_bars() -> dict:
        return tasks.fetch_bars()

    # Runs even when the fetch was skipped (daily limit): earlier bars may still wait in Kafka.
    @task.short_circuit(trigger_rule="none_failed")
    def check_backlog() -> bool:
        return tasks.has_backlog()

    drain_to_warehouse = SparkSubmitOperator(
        task_id="drain_to_warehouse",
        conn_id=SPARK_CONN_ID,
        application=str(SPARK_APPS_DIR / "drain_bars_to_warehouse.py"),
        name=DRAIN_QUERY_NAME,
        jars=SPARK_KAFKA_JARS,
        application_args=[
            "--bootstrap-servers", f"{{{{ conn.{KAFKA_CONN_ID}.extra_dejson['bootstrap.servers'] }}}}",
            "--bars-topic", BARS_TOPIC,
            "--dead-letter-topic", DEAD_LETTER_TOPIC,
            "--checkpoint", str(CHECKPOINTS_DIR / DRAIN_QUERY_NAME),
            "--query-name", DRAIN_QUERY_NAME,
            "--max-offsets-per-trigger", "{{ var.json.market_data_config.max_offsets_per_trigger }}",
        ],
        # The URI carries the password: environment, not argv.
        env_vars={"WAREHOUSE_URI": f"{{{{ conn.{WAREHOUSE_CONN_ID}.get_uri() }}}}"},
        conf={"spark.driver.memory": "1g"},
    )

    migrate_warehouse() >> fetch_bars() >> check_backlog() >> drain_to_warehouse


market_bars_pipeline()
