"""The scale section: what the fetch, the quota ledger and the drain cost as the watchlist grows.

Against the simulator (`python -m market_pipeline.simulator`, in a process of its own on a free
port, its clock at a trading Tuesday 11:00 US/Eastern) and the test stack's Kafka (the run's own
topics), with the real ledger store (`WarehouseLedgerStore`: its counters in a Variable of the
run's own written through the REST API, its symbols in a scratch warehouse database):

- premium: a live refresh (`fetch_and_publish`) of 10, 100 and 500 symbols (`market.universe`)
  for a realtime key allowed 1,200 requests a minute and 20 a second: wall time, requests,
  throttled answers, CPU seconds per request and the ratio to the floor (requests / 20 per s);
- free: the same watchlists for a free key (entitlement none, 25 a day, 1 a second): what the
  plan covers, the requests, the time and the symbols left stale;
- ledger: `store.save` of a ledger holding 500 symbols × 240 history months (the counters only,
  as every request writes them) against the old format's document of the same ledger (the
  counters with every symbol and month, which the old single-Variable ledger wrote each time);
- drain: the generated messages (`bench.generate`) drained by the per-run drain
  (`harness.drain_job.DrainJob`: its own spark-submit) on `local[*]` and on a standalone cluster
  of one worker (`harness.services.private_spark_cluster`), each into its own scratch database
  and checked against the manifest.

Each watchlist size has its own API key (the simulator counts limits per key) and its own ledger
Variable, so no size inherits another's quota. The simulator runs apart so that the process's CPU
time (`time.process_time`: every thread, the Kafka producer's included) is the fetch's alone.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from pydantic import Field

from bench.cycle import SESSION_START
from bench.generate import Generated, generate
from bench.history import timed
from bench.measure import batch_figures, check_exact, committed_progress, progress
from bench.quota import PLANS as QUOTA_PLANS
from bench.scratch import scratch_database, scratch_topics
from harness.drain_job import DrainJob
from harness.services import HOST, private_spark_cluster
from local_stack.ports import free_port, wait_for_port
from local_stack.spark_cluster import WORKER_CORES
from market_pipeline import kafka_io
from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.ledger_store import WarehouseLedgerStore
from market_pipeline.fetch.live import ApiCall, fetch_and_publish
from market_pipeline.fetch.quota import Ledger, MonthLoad, SymbolState
from market_pipeline.in_airflow.airflow_api import AirflowApi, RestVariable
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig, default_config
from market_pipeline.settings import BARS_PARTITIONS, CHECKPOINTS_DIR
from market_pipeline.simulator import market

SIZES, SMOKE_SIZES = (10, 100, 500), (5, 20)
# (symbols, history months each): 500 symbols × 20 years, and the smoke's.
LEDGER_SIZE, SMOKE_LEDGER_SIZE = (500, 240), (20, 12)
PLANS = {
    # name: (entitlement of the key and of the config, quota)
    "premium": ("realtime", QuotaConfig(per_day=None, per_minute=1200, per_second=20)),
    "free": QUOTA_PLANS["free"],
}
THROTTLED = "rate_limited"  # the API call log's outcome of a throttled answer (`alphavantage.outcome_name`)
WARM_UP_KEY = "BENCH-SCALE-WARM-UP"  # the simulator's first answer builds its caches (about 2 s)
SAVE_RUNS, OLD_FORMAT_RUNS = 20, 3
BARS_A_MONTH = 21 * 192  # 21 sessions of 192 extended-hours 5-minute bars
LOCAL_MASTER = "local[*]"
DRAIN_TIMEOUT_SECONDS = 1800


class OldFormatLedger(Ledger):
    """The ledger's Variable as written before migration 0008: the counters and every symbol's
    state, months included, in one document."""

    symbols: dict[str, SymbolState] = Field(default_factory=dict)


def run(base_uri: str, bootstrap: str, run_id: str, smoke: bool, bars: int, batch_size: int,
        work_dir: Path) -> dict:
    sizes, (symbols, months) = (SMOKE_SIZES, SMOKE_LEDGER_SIZE) if smoke else (SIZES, LEDGER_SIZE)
    api = AirflowApi.from_environment()
    topics = {"bars": f"bench.scale.bars.{run_id}", "dead_letter": f"bench.scale.dead-letter.{run_id}"}
    results: dict = {}
    with scratch_database(base_uri, f"market_bench_{run_id}_scale") as uri, scratch_variables(api) as variable, \
            scratch_topics(bootstrap, {topics["bars"]: BARS_PARTITIONS, topics["dead_letter"]: 1}):
        for plan in PLANS:
            results[plan] = refreshes(plan, sizes, bootstrap, topics, uri,
                                      lambda n, plan=plan: variable(f"bench_scale_{run_id}_{plan}_{n}"), work_dir)
        results["ledger"] = ledger_save(variable(f"bench_scale_{run_id}_ledger"), uri, symbols, months)
    results["drain"] = drains(base_uri, bootstrap, run_id, bars, batch_size, work_dir)
    return results


@contextmanager
def scratch_variables(api: AirflowApi) -> Iterator[Callable[[str], RestVariable]]:
    """Variables of the run's own, through the REST API; every one named is deleted at the end."""
    names: list[str] = []

    def variable(name: str) -> RestVariable:
        names.append(name)
        return RestVariable(api, name)

    try:
        yield variable
    finally:
        for name in names:
            api.request("DELETE", f"variables/{name}")


@contextmanager
def simulator(entitlement: str, quota: QuotaConfig, log_file: Path) -> Iterator[str]:
    """The simulator with the plan's limits and entitlement, in a process of its own; yields its URL."""
    port = free_port()

    def limit(value: float | None) -> str:
        return "none" if value is None else str(int(value))

    command = [sys.executable, "-m", "market_pipeline.simulator", "--host", HOST, "--port", str(port),
               "--start", SESSION_START.isoformat(), "--entitlement", entitlement,
               "--per-second", limit(quota.per_second), "--per-minute", limit(quota.per_minute),
               "--per-day", limit(quota.per_day)]
    with log_file.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(HOST, port, 60, alive=lambda: process.poll() is None)
        yield f"http://{HOST}:{port}/query"
    finally:
        process.terminate()
        process.wait()


def simulated_clock() -> Callable[[], datetime]:
    """The simulator's clock as the fetch sees it: SESSION_START now, then the wall's pace."""
    began = time.monotonic()
    return lambda: SESSION_START + timedelta(seconds=time.monotonic() - began)


def refreshes(plan: str, sizes: tuple[int, ...], bootstrap: str, topics: dict[str, str], uri: str,
              variable: Callable[[int], RestVariable], work_dir: Path) -> dict:
    entitlement, quota = PLANS[plan]
    with simulator(entitlement, quota, work_dir / f"simulator-{plan}.log") as url:
        clock = simulated_clock()
        AlphaVantageClient(url, WARM_UP_KEY, entitlement=entitlement).intraday("TSLA")
        out = {}
        for n in progress(sizes, desc=f"scale: {plan} refreshes", unit="watchlist"):
            config = default_config().model_copy(
                update={"watchlist": market.universe(n), "entitlement": entitlement, "quota": quota})
            with WarehouseLedgerStore(variable(n), uri) as store:
                out[str(n)] = refresh(url, f"BENCH-SCALE-{plan}-{n}", config, store, bootstrap, topics, clock)
    return {"entitlement": entitlement, "quota": quota.model_dump(), "sizes": out}


def refresh(url: str, key: str, config: PipelineConfig, store: WarehouseLedgerStore, bootstrap: str,
            topics: dict[str, str], clock: Callable[[], datetime]) -> dict:
    """One live refresh of the watchlist, as the DAG's fetch task runs it, from a fresh ledger."""
    producer = kafka_io.make_producer({"bootstrap.servers": bootstrap})
    call_log: list[ApiCall] = []

    def connect(observer):
        return AlphaVantageClient(url, key, entitlement=config.entitlement, observer=observer)

    cpu, started = time.process_time(), time.perf_counter()
    summary = fetch_and_publish(connect, store, partial(kafka_io.produce_all, producer), config,
                                topics=(topics["bars"], topics["dead_letter"]), now=clock, call_log=call_log)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    missed = {*summary.deferred, *summary.flagged, *summary.failed}
    fetched = len([symbol for symbol in summary.planned if symbol not in missed])
    floor = summary.calls / config.quota.per_second  # 500 requests fit in the per-minute limit
    return {
        "symbols": len(config.watchlist), "planned": len(summary.planned), "calls": summary.calls,
        "throttled": sum(call.outcome == THROTTLED for call in call_log), "fetched": fetched,
        "stale": len(config.watchlist) - fetched, "deferred": len(summary.deferred),
        "flagged": len(summary.flagged), "idle_reason": summary.idle_reason,
        "bars_published": summary.bars_published, "seconds": round(seconds, 3), "floor_seconds": round(floor, 3),
        "ratio_to_floor": round(seconds / floor, 2) if floor else None, "cpu_seconds": round(cpu_seconds, 3),
        "cpu_ms_per_request": round(1000 * cpu_seconds / summary.calls, 2) if summary.calls else None,
    }


def full_ledger(symbols: int, months: int) -> Ledger:
    """A ledger after a minute at the premium key's limit (the counters at their largest), holding
    the first `symbols` symbols of the universe with the `months` history months before the session."""
    ledger = Ledger()
    per_minute = PLANS["premium"][1].per_minute
    for n in range(per_minute):
        ledger.record_call(SESSION_START + timedelta(minutes=n / per_minute))
    first = SESSION_START.year * 12 + SESSION_START.month - 1 - months
    loads = {f"{m // 12}-{m % 12 + 1:02d}": MonthLoad(
        run_id=f"backfill__{m // 12}-{m % 12 + 1:02d}-01T00:00:00+00:00", clear_number=0, bars=BARS_A_MONTH,
        loaded_at=SESSION_START, as_traded=True) for m in range(first, first + months)}
    for symbol in market.universe(symbols):
        state = ledger.symbol(symbol)
        state.watermark = state.last_fetch_at = state.actions_checked_at = SESSION_START
        state.months = dict(loads)
    return ledger


def ledger_save(variable: RestVariable, uri: str, symbols: int, months: int) -> dict:
    ledger = full_ledger(symbols, months)
    with WarehouseLedgerStore(variable, uri) as store:
        store.save(ledger)  # creates the Variable: each save after it is a fetch's
        saves = [timed(lambda: store.save(ledger)) for _ in range(SAVE_RUNS)]
    reads = [timed(variable.get) for _ in range(SAVE_RUNS)]
    old = OldFormatLedger(**ledger.model_dump(), symbols=ledger.symbols)
    document = old.model_dump_json()
    serialise = [timed(old.model_dump_json) for _ in range(OLD_FORMAT_RUNS)]
    variable.set(document)  # the Variable holds the old document, as each save found it then
    old_write = timed(lambda: variable.set(document))
    return {
        "symbols": symbols, "months": months, "counters_bytes": len(ledger.model_dump_json().encode()),
        "save_median_ms": round(1000 * statistics.median(saves), 1), "save_max_ms": round(1000 * max(saves), 1),
        "saves": len(saves), "read_median_ms": round(1000 * statistics.median(reads), 1),
        "old_format_bytes": len(document.encode()),
        "old_format_serialise_median_ms": round(1000 * statistics.median(serialise), 1),
        "old_format_rest_write_seconds": old_write,
    }


def drains(base_uri: str, bootstrap: str, run_id: str, bars: int, batch_size: int, work_dir: Path) -> dict:
    with progress(total=bars, desc="scale: generate", unit="msg", unit_scale=True) as bar:
        generated = generate(bars, progress=bar)
    topics = {"bars": f"bench.scale.drain.{run_id}", "dead_letter": f"bench.scale.drain-dead-letter.{run_id}"}
    with scratch_topics(bootstrap, {topics["bars"]: 2, topics["dead_letter"]: 1}):
        kafka_io.produce_all(kafka_io.make_producer({"bootstrap.servers": bootstrap}), progress(
            (kafka_io.Message(topics["bars"], key, value) for key, value in generated.messages),
            total=bars, desc="scale: produce", unit="msg", unit_scale=True))
        local = drain(generated, bootstrap, topics, base_uri, f"{run_id}_local", LOCAL_MASTER, batch_size, work_dir)
        started = time.perf_counter()
        with private_spark_cluster() as cluster:
            start_seconds = round(time.perf_counter() - started, 3)
            on_cluster = drain(generated, bootstrap, topics, base_uri, f"{run_id}_cluster", cluster.url,
                               batch_size, work_dir)
            state = cluster.state()
    # The master's record that the drain ran there: an application of the query's name.
    applications = [app["id"] for app in (*state["activeapps"], *state["completedapps"])
                    if app["name"] == on_cluster["query_name"]]
    return {
        "messages": bars, "batch_size": batch_size, "topics": topics,
        "local": {**local, "cores": os.cpu_count()},
        "cluster": {**on_cluster, "cores": WORKER_CORES, "workers": 1, "start_seconds": start_seconds,
                    "applications": applications},
        "ratio_cluster_over_local": round(on_cluster["end_to_end_seconds"] / local["end_to_end_seconds"], 3),
    }


def drain(generated: Generated, bootstrap: str, topics: dict[str, str], base_uri: str, name: str, master: str,
          batch_size: int, work_dir: Path) -> dict:
    """The per-run drain of every message on `master` into a scratch database: launch-to-exit,
    steady state (`bench.measure`), and the table checked against the manifest."""
    query_name = f"bench_scale_{name}"
    messages = generated.manifest.messages
    log_file = work_dir / f"drain-{name}.log"
    with scratch_database(base_uri, f"market_bench_{name}_drain") as uri:
        job = DrainJob(bootstrap, topics, CHECKPOINTS_DIR / query_name, uri, query_name=query_name,
                       max_offsets_per_trigger=batch_size, master=master)
        try:
            with committed_progress(uri, query_name, messages, f"scale: drain on {master}"), \
                    log_file.open("w") as log:
                launched = datetime.now(UTC)
                started = time.perf_counter()
                result = subprocess.run(job.command(), env=job.env(), stdout=log, stderr=subprocess.STDOUT,
                                        timeout=DRAIN_TIMEOUT_SECONDS, start_new_session=True)
                seconds = time.perf_counter() - started
                exited = datetime.now(UTC)
        finally:
            shutil.rmtree(job.checkpoint, ignore_errors=True)
        if result.returncode != 0:
            raise RuntimeError(f"the drain on {master} failed ({result.returncode}): see {log_file}")
        steady = batch_figures(uri, query_name, launched, exited)
        return {"master": master, "query_name": query_name, "end_to_end_seconds": round(seconds, 3),
                "rows_per_second_end_to_end": round(messages / seconds),
                "steady_state_rows_per_second": steady["steady_state_rows_per_second"],
                "startup_seconds": steady["startup_seconds"], "batches": len(steady["batches"]),
                "check": check_exact(uri, generated.manifest, f"drain on {master}"), "log": str(log_file)}
