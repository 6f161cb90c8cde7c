"""
### Market corporate actions

Every 6 hours: fetches the splits and dividends (`SPLITS`, `DIVIDENDS`) of each
watchlist symbol not checked within a week, or whose traded price stepped like a
split on a day with no known split since it was checked, stores them in `market.splits` and
`market.dividends`, and refreshes the `reporting` schema when they changed, so
the adjusted series follow (`market.bars` holds prices as traded and never
changes for an action).

The decision that matters: the requests go through the same pool, quota
ledger and meter as the bars, and spend only what history may spend
(`quota.history_allowance`), never the live fetch's reserve; a run with
nothing due makes no request at all.
"""

from datetime import timedelta

from airflow.sdk import dag, task

from market_pipeline.fetch.corporate_actions import CHECK_EVERY
from market_pipeline.in_airflow import tasks
from market_pipeline.in_airflow.alerts import dag_alerting, task_defaults
from market_pipeline.in_airflow.params import RunTarget, run_params
from market_pipeline.in_airflow.schedules import recurring
from market_pipeline.settings import ALPHAVANTAGE_POOL


@dag(
    schedule=CHECK_EVERY,
    **recurring(),
    dagrun_timeout=timedelta(hours=1),
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=1)),
    params=run_params(),
    tags=["market-data", "alphavantage", "corporate-actions"],
    doc_md=__doc__,
    **dag_alerting(deadline=timedelta(minutes=30)),
)
def market_corporate_actions():
    # Two requests per symbol at one a second: 10 minutes covers a 300-symbol watchlist.
    @task(pool=ALPHAVANTAGE_POOL, execution_timeout=timedelta(minutes=10))
    def check_corporate_actions(params=None, ti=None, dag_run=None) -> dict:
        return tasks.check_corporate_actions(RunTarget.model_validate(params), tasks.RunInfo.from_context(ti, dag_run))

    check_corporate_actions()


market_corporate_actions()
