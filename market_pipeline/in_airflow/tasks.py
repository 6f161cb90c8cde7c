"""The bodies of the DAG's Python tasks: build clients from Airflow connections and
Variables, call the pure logic, and turn its outcomes into Airflow task states.

Called only from `dags/market_bars_pipeline.py`, inside running tasks, so no
Variable or connection is read at DAG parse time.  Every task takes the run's
`RunTarget` (the DAG's params): which Variables, connections, topics and
drain query it works on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from airflow.sdk.exceptions import AirflowFailException

from market_pipeline import kafka_io, warehouse
from market_pipeline.fetch import corporate_actions
from market_pipeline.fetch.alphavantage import (
    DemoKeyRejected,
    InvalidApiKey,
    PremiumOnly,
)
from market_pipeline.fetch.ledger_store import LedgerStore
from market_pipeline.fetch.live import ApiCall, fetch_and_publish, fetch_state_rows
from market_pipeline.in_airflow import connections
from market_pipeline.in_airflow.connections import alphavantage_client, kafka_config
from market_pipeline.in_airflow.params import RunTarget, load_config
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.reporting.freshness import assess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    """The task try at hand: labels its API call log rows, and tells a task retry (same
    clear_number) from a run Airflow was asked to run again (cleared)."""

    dag_id: str
    run_id: str
    try_number: int
    clear_number: int = 0

    @classmethod
    def from_context(cls, ti, dag_run) -> RunInfo:
        return cls(ti.dag_id, ti.run_id, ti.try_number, dag_run.clear_number or 0)

    def log_labels(self) -> dict:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "try_number": self.try_number}


def fetch_wiring(target: RunTarget, config: PipelineConfig, call_log: list[ApiCall], store: LedgerStore) -> dict:
    """What the live and the history fetch are given: the client, the ledger, Kafka, the clock."""
    producer = kafka_io.make_producer(kafka_config())
    return {
        "connect": lambda observer: alphavantage_client(target.alphavantage_conn_id, config.entitlement, observer),
        "store": store,
        "publish": lambda messages: kafka_io.produce_all(producer, messages),
        "topics": (target.bars_topic, target.dead_letter_topic),
        "now": target.now,
        "call_log": call_log,
    }


def fetch_bars(target: RunTarget, run: RunInfo) -> dict:
    """Fetch what the quota plan allows and publish it; the summary. Failed without retries when
    only a new key or plan helps. The try's API call log is written whatever the outcome."""
    config = load_config(target.config_variable)
    call_log: list[ApiCall] = []
    with connections.ledger_store(target) as store:
        try:
            summary = fetch_and_publish(config=config, **fetch_wiring(target, config, call_log, store))
        except (InvalidApiKey, DemoKeyRejected, PremiumOnly) as exc:
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from None
        finally:
            record_call_log(target, run, call_log)
            warehouse.record_fetch_state(connections.warehouse_uri(target.warehouse_conn_id),
                                         fetch_state_rows(config, store.load(), target.now()))
    log.info("fetch summary: %s", json.dumps(summary.as_dict()))
    if summary.daily_limit_reached:
        log.warning("Alpha Vantage daily limit reached: the ledger holds off until the reset")
    return summary.as_dict()


def check_corporate_actions(target: RunTarget, run: RunInfo) -> dict:
    """Check the due symbols' splits and dividends into the warehouse; the reporting layer is
    refreshed when any changed, whatever the run's outcome. The try's API call log is written too."""
    config = load_config(target.config_variable)
    uri = connections.warehouse_uri(target.warehouse_conn_id)
    call_log: list[ApiCall] = []
    changed: list[str] = []

    def record(actions: corporate_actions.SymbolActions) -> bool:
        if warehouse.replace_corporate_actions(uri, actions.symbol, actions.splits, actions.dividends, target.now()):
            changed.append(actions.symbol)
            return True
        return False

    try:
        with connections.ledger_store(target) as store:
            summary = corporate_actions.check_corporate_actions(
                lambda observer: alphavantage_client(target.alphavantage_conn_id, config.entitlement, observer),
                store, record, config, now=target.now, call_log=call_log,
                price_jumps=warehouse.unexplained_price_jumps(
                    uri, config.interval, (target.now() - corporate_actions.ACTIONS_MAX_AGE).date(),
                    corporate_actions.SPLIT_SIZED_STEP))
    except (InvalidApiKey, DemoKeyRejected, PremiumOnly) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from None
    finally:
        record_call_log(target, run, call_log)
        if changed:
            log.info("corporate actions changed for %s: refreshing the reporting layer", changed)
            refresh_reporting(target)
    log.info("corporate actions summary: %s", json.dumps(asdict(summary)))
    return asdict(summary)


def record_call_log(target: RunTarget, run: RunInfo, call_log: list[ApiCall]) -> None:
    warehouse.record_api_calls(connections.warehouse_uri(target.warehouse_conn_id), run.log_labels(),
                               [call.as_row() for call in call_log])
    log.info("API call log: %s requests recorded", len(call_log))


LIVE = RunTarget()


def backlog(target: RunTarget = LIVE, warehouse_uri: str | None = None) -> list[dict]:
    """Per partition of the drain's topics: Kafka's end offset and the offset the warehouse has
    committed (`market.topic_lag`'s rows); their difference is what a drain would load."""
    ends = kafka_io.end_offsets(kafka_config(), (target.bars_topic, target.dead_letter_topic))
    uri = warehouse_uri or connections.warehouse_uri(target.warehouse_conn_id)
    committed = warehouse.committed_offsets(uri, target.query_name)
    checked_at = datetime.now(UTC)
    return [
        {"query_name": target.query_name, "topic": topic, "partition": partition, "end_offset": end,
         "committed_offset": committed.get((topic, partition), 0), "checked_at": checked_at}
        for (topic, partition), end in sorted(ends.items())
    ]


def has_backlog(target: RunTarget, warehouse_uri: str | None = None) -> bool:
    """True when Kafka holds messages the warehouse has not committed: only then is Spark worth
    starting. What it saw is kept for the reporting layer's lag view. With nothing to drain it
    brings the reporting layer level with the bars itself: a drain killed between its load and its
    refresh leaves days queued, and no Spark run is needed to apply them."""
    uri = warehouse_uri or connections.warehouse_uri(target.warehouse_conn_id)
    partitions = backlog(target, uri)
    warehouse.record_topic_lag(uri, partitions)
    behind = {f"{p['topic']}/{p['partition']}": p["end_offset"] - p["committed_offset"]
              for p in partitions if p["end_offset"] > p["committed_offset"]}
    log.info("messages not yet in the warehouse: %s", behind or "none")
    if not behind:
        warehouse.refresh_reporting(uri)
    return bool(behind)


def check_freshness(target: RunTarget) -> list[dict]:
    """The watchdog: judge each watchlist symbol's newest bar, keep the verdicts for the reporting
    layer, and fail (so the alerts go out) when one is stale."""
    config = load_config(target.config_variable)
    uri = connections.warehouse_uri(target.warehouse_conn_id)
    now = target.now()
    with connections.ledger_store(target) as store:
        ledger = store.load()
    verdicts = assess(config, ledger, warehouse.newest_bars(uri, config.watchlist, config.interval), now)
    rows = [verdict.as_row(now) for verdict in verdicts]
    warehouse.record_freshness(uri, rows)
    for verdict in verdicts:
        log.info("%s: %s", verdict.symbol, verdict.reason)
    if stale := [f"{verdict.symbol} ({verdict.reason})" for verdict in verdicts if verdict.stale]:
        raise AirflowFailException(f"stale market data: {'; '.join(stale)}")
    return rows


def refresh_reporting(target: RunTarget) -> None:
    warehouse.refresh_reporting(connections.warehouse_uri(target.warehouse_conn_id))


def batches_committed(target: RunTarget, after_batch_id: int = -1) -> dict:
    """The drain query's batches after `after_batch_id` (-1: all): counts and the last batch id."""
    [row] = warehouse.read(connections.warehouse_uri(target.warehouse_conn_id), "batches_committed",
                           {"query_name": target.query_name, "after_batch_id": after_batch_id})
    return row
