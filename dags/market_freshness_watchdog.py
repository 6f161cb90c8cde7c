"""
### Market freshness watchdog

Every 5 minutes: compares each watchlist symbol's newest bar in the warehouse
with what the key's entitlement lets the API serve by now, records the verdicts
(`market.freshness_checks`, shown in `reporting.freshness` and the market page)
and fails, so the alerts go out, when a symbol is stale.

The decision that matters: it judges with the same calendar and entitlement
rules the fetch plans by, and stays quiet when no bars can be due: the market
is closed to the key, the symbol is flagged, or the quota is knowingly spent.
Limits live in the `freshness` section of `market_data_config`.
"""

from datetime import timedelta

from airflow.sdk import dag, task

from market_pipeline.in_airflow import tasks
from market_pipeline.in_airflow.alerts import dag_alerting, task_defaults
from market_pipeline.in_airflow.params import RunTarget, run_params
from market_pipeline.in_airflow.schedules import recurring


@dag(
    schedule=timedelta(minutes=5),
    **recurring(),
    dagrun_timeout=timedelta(minutes=4),  # before the next run is due
    # A check takes 1-3 s: a run not done 2 minutes after it was queued is stuck.
    # One retry for a database hiccup; a stale verdict fails at once (AirflowFailException).
    # A check took 1-3 s in CI.
    default_args=task_defaults(retries=1, retry_delay=timedelta(seconds=30), execution_timeout=timedelta(minutes=1)),
    params=run_params(),
    tags=["market-data", "monitoring"],
    doc_md=__doc__,
    **dag_alerting(deadline=timedelta(minutes=2)),
)
def market_freshness_watchdog():
    @task
    def check_freshness(params=None) -> list[dict]:
        return tasks.check_freshness(RunTarget.model_validate(params))

    check_freshness()


market_freshness_watchdog()
