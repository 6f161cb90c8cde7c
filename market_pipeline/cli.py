"""Command line of the pipeline's pieces, used by `bin/stack` and by hand.

    python -m market_pipeline.cli ensure-topics       create the Kafka topics
    python -m market_pipeline.cli add-partitions --partitions N   grow the bars topic to N partitions
    python -m market_pipeline.cli migrate             apply warehouse migrations
    python -m market_pipeline.cli provision-airflow   pools and Variables from config/
    python -m market_pipeline.cli airflow-login       print the UI login
    python -m market_pipeline.cli run-dag DAG_ID      trigger a run and wait for its end
    python -m market_pipeline.cli show-bars           print the newest bars in the warehouse
    python -m market_pipeline.cli lag                 messages in Kafka not yet in the warehouse
    python -m market_pipeline.cli chart               a PNG of recent prices per symbol
    python -m market_pipeline.cli adjusted-months     history months stored adjusted, and the backfill that mends them

Connections come from the same AIRFLOW_CONN_* variables Airflow reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

from market_pipeline import kafka_io, warehouse
from market_pipeline.in_airflow import connections
from market_pipeline.reporting.price_basis import PriceBasis
from market_pipeline.settings import CONFIG_DIR, FETCH_SUMMARY_XCOM_KEY, VARIABLES_FILE


def ensure_topics(_: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.connections import kafka_config

    try:
        kafka_io.ensure_topics(kafka_config()["bootstrap.servers"])
    except kafka_io.PartitionsRefused as refused:
        sys.exit(str(refused))
    print(f"topics ready: {', '.join(kafka_io.TOPIC_PARTITIONS)}")


def add_partitions(args: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.connections import kafka_config
    from market_pipeline.settings import BARS_PARTITIONS, BARS_TOPIC

    try:
        before, after = kafka_io.add_partitions(kafka_config()["bootstrap.servers"], BARS_TOPIC, args.partitions)
    except kafka_io.PartitionsRefused as refused:
        sys.exit(str(refused))
    print(f"{BARS_TOPIC}: {before} partitions before, {after} after")
    if after != BARS_PARTITIONS:  # bin/stack start refuses a setting below the topic's count
        print(f"now set KAFKA_BARS_PARTITIONS={after} (in .env or config/stack.env; it is {BARS_PARTITIONS})")


def migrate(_: argparse.Namespace) -> None:
    applied = warehouse.apply_migrations(connections.warehouse_uri())
    print(f"warehouse migrations applied: {', '.join(applied) or 'none pending'}")


def provision_airflow(_: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.airflow_api import AirflowApi

    api = AirflowApi.from_environment()
    for name, pool in json.loads((CONFIG_DIR / "airflow_pools.json").read_text()).items():
        api.ensure_pool(name, pool["slots"], pool["description"])
    for key, value in json.loads(VARIABLES_FILE.read_text()).items():
        if api.ensure_variable(key, value):
            print(f"Variable {key} created from config/airflow_variables.json")


def airflow_login(_: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.airflow_api import admin_login

    username, password = admin_login()
    print(f"login: {username} / {password}")


def run_dag(args: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.airflow_api import AirflowApi

    api = AirflowApi.from_environment()
    api.wait_for_dag(args.dag_id)
    # Queued while the DAG is still paused and ahead of its first scheduled run, so the run
    # printed here is the one that fetches; the scheduled ones follow it.
    run_id = api.trigger(args.dag_id, ahead_of_schedule=True)
    api.unpause(args.dag_id)
    print(f"triggered {args.dag_id} run {run_id}; waiting for it to finish")
    run = api.wait_for_run(args.dag_id, run_id, args.timeout)
    for line in run_report(api, args.dag_id, run_id):
        print(line)
    if run["state"] != "success":
        sys.exit(f"run {run_id} ended {run['state']}: see the task logs in the Airflow UI")


def run_report(api, dag_id: str, run_id: str) -> list[str]:
    """One run's task states, then its fetch or corporate actions summary when the run has one."""
    lines = [f"  {task_id:<22} {state}" for task_id, state in api.task_states(dag_id, run_id).items()]
    summary = api.xcom(dag_id, run_id, "fetch_bars", key=FETCH_SUMMARY_XCOM_KEY)
    if summary is not None:
        lines.append(f"  fetch: {summary['calls']} API requests ({summary['calls_today']} today), "
                     f"{summary['bars_published']} new bars published")
        if summary["idle_reason"]:
            lines.append(f"  nothing new was due: {summary['idle_reason']}")
    actions = api.xcom(dag_id, run_id, "check_corporate_actions")
    if actions is not None:
        lines.append(f"  corporate actions: {actions['calls']} API requests; checked {actions['checked'] or 'none'}"
                     f" (due {actions['due'] or 'none'}), changed {actions['changed'] or 'none'}")
    return lines


def show_bars(args: argparse.Namespace) -> None:
    rows = warehouse.latest_bars(connections.warehouse_uri(), args.per_symbol)
    print(f"{'symbol':<7} {'interval':<8} {'bar_time (UTC)':<20} {'open':>12} {'high':>12} "
          f"{'low':>12} {'close':>12} {'volume':>10}")
    for symbol, interval, bar_time, open_, high, low, close, volume in rows:
        print(f"{symbol:<7} {interval:<8} {bar_time:%Y-%m-%d %H:%M:%S}  {open_:>12} {high:>12} "
              f"{low:>12} {close:>12} {volume:>10}")
    print(f"({len(rows)} rows: the newest {args.per_symbol} bars per symbol in market.bars)")
    if not rows:
        sys.exit("no bars in the warehouse")


def lag(_: argparse.Namespace) -> None:
    from market_pipeline.in_airflow.tasks import backlog

    for partition in backlog():
        print(f"{partition['topic']}/{partition['partition']:<10} "
              f"{partition['end_offset'] - partition['committed_offset']:>8}")


def chart(args: argparse.Namespace) -> None:
    from market_pipeline.reporting.chart_export import write_recent_prices_png
    from market_pipeline.settings import READER_CONN_ID

    drawn = write_recent_prices_png(connections.warehouse_uri(READER_CONN_ID), args.output, args.sessions,
                                    args.basis, symbols=args.symbol, through=args.through)
    for symbol, (sessions, bars) in drawn.items():
        print(f"{symbol:<7} {sessions} sessions, {bars} bars")
    print(f"wrote {args.output} (read as {READER_CONN_ID})")


def adjusted_months(_: argparse.Namespace) -> None:
    from market_pipeline.fetch.ledger_store import WarehouseLedgerStore
    from market_pipeline.fetch.quota import month_ranges, months_stored_adjusted
    from market_pipeline.in_airflow.airflow_api import AirflowApi, RestVariable
    from market_pipeline.settings import QUOTA_LEDGER_VARIABLE

    with WarehouseLedgerStore(RestVariable(AirflowApi.from_environment(), QUOTA_LEDGER_VARIABLE),
                              connections.warehouse_uri()) as store:
        store.load()  # moves the symbols of a ledger written before migration 0008 to the warehouse
        months = months_stored_adjusted(store.all_months())
    if not months:
        print("every history month in the ledger was loaded as traded: nothing to mend")
        return
    for month, symbols in months.items():
        print(f"{month}  {' '.join(symbols)}")
    print(f"{sum(map(len, months.values()))} symbol-months stored adjusted as of their fetch; load them again "
          "as traded (one request per watchlist symbol and month, within the history allowance):")
    for first, last in month_ranges(list(months)):
        print(f"  airflow backfill create --dag-id market_bars_history --from-date {first}-01 --to-date {last}-01"
              " --reprocess-behavior completed")


def rebuild_reporting(_: argparse.Namespace) -> None:
    started = time.perf_counter()
    warehouse.rebuild_reporting(connections.warehouse_uri())
    print(f"reporting tables rebuilt from every bar in {time.perf_counter() - started:.1f} s")


def main() -> None:
    logging.getLogger("yoyo").setLevel(logging.WARNING)  # one line per migration step otherwise
    parser = argparse.ArgumentParser(prog="python -m market_pipeline.cli")
    commands = parser.add_subparsers(required=True)
    commands.add_parser("ensure-topics").set_defaults(handler=ensure_topics)
    grow = commands.add_parser("add-partitions", help="grow the bars topic, then set KAFKA_BARS_PARTITIONS")
    grow.add_argument("--partitions", type=int, required=True, help="the topic's new partition count")
    grow.set_defaults(handler=add_partitions)
    commands.add_parser("migrate").set_defaults(handler=migrate)
    commands.add_parser("provision-airflow").set_defaults(handler=provision_airflow)
    commands.add_parser("airflow-login").set_defaults(handler=airflow_login)
    run = commands.add_parser("run-dag")
    run.add_argument("dag_id")
    run.add_argument("--timeout", type=float, default=600)
    run.set_defaults(handler=run_dag)
    show = commands.add_parser("show-bars")
    show.add_argument("--per-symbol", type=int, default=5)
    show.set_defaults(handler=show_bars)
    commands.add_parser("lag").set_defaults(handler=lag)
    picture = commands.add_parser("chart", help="write a PNG of recent prices per symbol")
    picture.add_argument("--output", type=Path, default=Path("market-prices.png"))
    picture.add_argument("--sessions", type=int, default=5, help="how many of each symbol's latest sessions")
    picture.add_argument("--basis", type=PriceBasis, nargs="+", default=[PriceBasis.ADJUSTED],
                         choices=list(PriceBasis),
                         help="the prices drawn, one line each: adjusted (split-adjusted, the default), traded")
    picture.add_argument("--symbol", action="append", help="only this symbol (repeatable)")
    picture.add_argument("--through", type=date.fromisoformat, help="the last session drawn (default: the latest)")
    picture.set_defaults(handler=chart)
    commands.add_parser("adjusted-months", help="history months stored adjusted, and how to load them again"
                        ).set_defaults(handler=adjusted_months)
    commands.add_parser("rebuild-reporting", help="recompute the reporting tables from every bar (a repair)"
                        ).set_defaults(handler=rebuild_reporting)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
