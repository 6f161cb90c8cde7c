"""
### Market bars pipeline

Every 90 seconds: fetch new intraday bars from Alpha Vantage within the day's
quota, publish them to Kafka, drain Kafka into the Postgres warehouse with a
Spark Structured Streaming job (`Trigger.AvailableNow`, exactly once), and
refresh the `reporting` schema's materialized views (the drain task's last step).

The decisions that matter: starting Spark costs 17-27 s on 2 cores, so the
drain runs on the stack's long-lived Spark Connect server (`drain_session`
`connect`, the default; `per_run` starts a Spark per drain), and even that
launch costs seconds, so `fetch_bars` ends by comparing Kafka's end offsets
with the offsets the warehouse has committed, and skips the drain when there
is nothing new (also when the daily limit held the fetch back: earlier bars
may still wait).  Runs share a topic
and a checkpoint, hence `max_active_runs=1`; drains of every DAG share the
one-slot `warehouse_drain` pool.  Migrations run at start and deploy
(`bin/stack start`), not every 90 seconds.

The params say where a run works; their defaults are the live pipeline.
"""

from datetime import timedelta

from airflow.sdk import dag, task

from market_pipeline.in_airflow import tasks
from market_pipeline.in_airflow.alerts import dag_alerting, task_defaults
from market_pipeline.in_airflow.drain import drain_to_warehouse
from market_pipeline.in_airflow.params import RunTarget, run_params
from market_pipeline.in_airflow.schedules import recurring
from market_pipeline.settings import ALPHAVANTAGE_POOL, FETCH_SUMMARY_XCOM_KEY


@dag(
    # Backfilling a 90-second fetch would repeat the live fetch ~260 times a day and ask the API
    # for no past at all: `recurring` refuses backfills.
    schedule=timedelta(seconds=90),
    **recurring(),
    default_args=task_defaults(retries=2, retry_delay=timedelta(seconds=30)),
    # A hung run blocks the next ones (max_active_runs=1): end it. Its deadline alert has warned
    # 10 minutes earlier: a run takes 20-25 s, so 5 minutes is three cycles behind.
    dagrun_timeout=timedelta(minutes=15),
    params=run_params(),
    tags=["market-data", "alphavantage", "kafka", "spark"],
    doc_md=__doc__,
    **dag_alerting(deadline=timedelta(minutes=5)),
)
def market_bars_pipeline():
    # A free key's fetch took 10 s in a busy CI run (task start included); a premium key's
    # refresh of a long watchlist at 75 requests a minute takes minutes: 10 covers ~700 requests.
    @task.short_circuit(pool=ALPHAVANTAGE_POOL, execution_timeout=timedelta(minutes=10))
    def fetch_bars(params=None, ti=None, dag_run=None) -> bool:
        target = RunTarget.model_validate(params)
        summary = tasks.fetch_bars(target, tasks.RunInfo.from_context(ti, dag_run))
        ti.xcom_push(key=FETCH_SUMMARY_XCOM_KEY, value=summary)
        return tasks.has_backlog(target)

    fetch_bars() >> drain_to_warehouse()


market_bars_pipeline()
