"""Custom operators: the history fetch, which must defer while the quota is spent, and the
drain's launch, which ships the job's Python package with it.

A TaskFlow task cannot defer to a method of its own, so the history fetch is
an operator: it loads what the day's allowance pays for, then, if symbols are
left, defers on a `DateTimeTrigger` until the quota resets.  A deferred task
holds no worker slot and, with the pool's `include_deferred` off, no slot of
the API pool either; the triggerer wakes it and it goes on where it stopped.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from market_pipeline.fetch.alphavantage import DemoKeyRejected, InvalidApiKey, PremiumOnly
from market_pipeline.fetch.history import fetch_history_month, history_progress, month_of
from market_pipeline.fetch.live import ApiCall
from market_pipeline.in_airflow.connections import ledger_store
from market_pipeline.in_airflow.params import RunTarget, load_config
from market_pipeline.in_airflow.tasks import RunInfo, fetch_wiring, record_call_log

log = logging.getLogger(__name__)


class FetchHistoryMonthOperator(BaseOperator):
    """Fetches the month of the run's data interval for every watchlist symbol; defers until the
    quota resets when the day's history allowance is spent."""

    def execute(self, context: Any) -> dict:
        target = RunTarget.model_validate(context["params"])
        run = RunInfo.from_context(context["ti"], context["dag_run"])
        month = month_of(context["data_interval_start"])
        config = load_config(target.config_variable)
        call_log: list[ApiCall] = []
        with ledger_store(target) as store:
            try:
                summary = fetch_history_month(config=config, month=month, run_id=run.run_id,
                                              clear_number=run.clear_number,
                                              **fetch_wiring(target, config, call_log, store))
            except (InvalidApiKey, DemoKeyRejected, PremiumOnly) as exc:
                raise AirflowFailException(f"{type(exc).__name__}: {exc}") from None
            finally:
                record_call_log(target, run, call_log)
            progress = store.history_progress(config.watchlist)
        log.info("%s: loaded %s, already loaded %s, unavailable %s, left %s; %s requests left today for "
                 "history; %s", month, summary.loaded, summary.already_loaded, list(summary.unavailable),
                 summary.remaining, summary.requests_left_for_history,
                 history_progress(**progress, symbols=len(config.watchlist)))
        if summary.remaining and summary.resume_at is not None:
            wake = target.wall_time(summary.resume_at)
            log.info("quota spent for today: deferring until %s (wall clock %s)", summary.resume_at, wake)
            self.defer(trigger=DateTimeTrigger(moment=wake), method_name="resume")
        log.info("history summary: %s", json.dumps(summary.as_dict()))
        return summary.as_dict()

    def resume(self, context: Any, event: Any = None) -> dict:
        return self.execute(context)
