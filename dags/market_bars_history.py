"""
### Market bars history

One run per calendar month: fetches that month of intraday bars
(`TIME_SERIES_INTRADAY` with `month=YYYY-MM`, `outputsize=full`) for every
watchlist symbol, publishes them to the live topics, and drains them with the
same Spark job.  Fill history with Airflow's backfill, from the CLI
(`airflow backfill create --dag-id market_bars_history --from-date 2024-01-01
--to-date 2024-06-30`) or the UI's Backfill dialog.

The decision that matters: history shares the live fetch's pool and quota
ledger and spends only what the live fetch does not need today; when that is
spent, the fetch *defers* until the quota resets (no worker slot held, no
throttled request).  A (symbol, month) already loaded is skipped unless
Airflow runs the month again (`--reprocess-behavior`, or a Clear).
"""

from datetime import UTC, datetime, time, timedelta

from airflow.sdk import dag
from airflow.timetables.interval import CronDataIntervalTimetable

from market_pipeline.in_airflow.alerts import dag_alerting, task_defaults
from market_pipeline.in_airflow.drain import check_backlog_then_drain
from market_pipeline.in_airflow.operators import FetchHistoryMonthOperator
from market_pipeline.in_airflow.params import run_params
from market_pipeline.settings import ALPHAVANTAGE_POOL
from market_pipeline.trading_calendar import HISTORY_START


@dag(
    # Data intervals: the run at 1 December (UTC) loads November, a backfill's run for
    # 2024-01-01 loads January 2024.
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    start_date=datetime.combine(HISTORY_START, time(), UTC),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=2, retry_delay=timedelta(minutes=1)),
    params=run_params(),
    tags=["market-data", "alphavantage", "history"],
    doc_md=__doc__,
    # No deadline and no run timeout: a month waits, deferred, for the next quota day.
    **dag_alerting(deadline=None),
)
def market_bars_history():
    # Deferred until the quota resets (at most a day), then a few requests: 26 hours in all.
    fetch = FetchHistoryMonthOperator(task_id="fetch_history_month", pool=ALPHAVANTAGE_POOL,
                                      execution_timeout=timedelta(hours=26))
    check_backlog, *_ = check_backlog_then_drain()
    fetch >> check_backlog


market_bars_history()
