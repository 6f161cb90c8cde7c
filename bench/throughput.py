"""Sections 2 to 4: the generated messages through every write path, side by side.

On the run's own topics (2 partitions for bars, 1 for dead letters) and a
fresh warehouse database per path:

- drain, in each of its sessions (`DRAIN_SESSIONS`, side by side): the Spark
  job launched as the DAG's `drain_to_warehouse` launches it
  (`SparkSubmitHook` with the operator's connection, conf, jars, zipped
  package, arguments and environment), timed from launch to exit, with the
  peak memory of the spark-submit JVM and its Python driver, and, on the
  stack's Spark Connect server, that server's;
- no-op drain: the same launch again on the same checkpoint, nothing to read;
- baseline: `bench/plain_consumer.py` in its own process, timed and sampled
  the same way;
- ceiling: COPY of the pre-built final rows into an empty `market.bars`.

After each path the table must equal the manifest (`bench.measure.check_exact`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from psycopg import sql

from bench.generate import FINAL_ROW_COLUMNS, Generated, final_rows_csv
from bench.measure import batch_figures, check_exact, committed_progress, progress
from bench.memory import descendants_of_this_process, peak_memory, pidfile_tree
from bench.scratch import scratch_database, scratch_topics
from market_pipeline import kafka_io
from market_pipeline.in_airflow.connections import spark_connect_url
from market_pipeline.in_airflow.drain import package_job
from market_pipeline.load.drain_submit import DRAIN_APP, DrainSubmit
from market_pipeline.pipeline_config import default_config
from market_pipeline.settings import (
    CHECKPOINTS_DIR,
    PROJECT_ROOT,
    SPARK_CONN_ID,
    STATE_DIR,
)

# The drain's sessions (`drain_session`): a Spark of each launch's own, then the stack's server.
DRAIN_SESSIONS = ("per_run", "connect")


def default_batch_size() -> int:
    """`max_offsets_per_trigger` as the live pipeline starts with it."""
    return default_config().max_offsets_per_trigger


class _DrainHook(SparkSubmitHook):
    """The provider's hook, unchanged but for where spark-submit's output goes: the run's log file
    (the hook logs every line it reads), not the console."""

    def __init__(self, logger: logging.Logger, **kwargs) -> None:
        self._output = logger
        super().__init__(**kwargs)

    @property
    def log(self) -> logging.Logger:
        return self._output


class Drain:
    """The DAG's drain launch for one query on the run's topics and database."""

    def __init__(self, bootstrap: str, topics: dict[str, str], query_name: str, uri: str, batch_size: int,
                 work_dir: Path, session: str) -> None:
        self.query_name, self.uri, self.work_dir, self.session = query_name, uri, work_dir, session
        self.checkpoint = CHECKPOINTS_DIR / query_name
        # The operator zips the package at each launch into JOB_PACKAGE_ZIP; the benchmark zips the
        # same files into its own folder so it never rewrites a zip a DAG's drain is reading.
        self.package = work_dir / "market_pipeline.zip"
        self.submit = DrainSubmit(bootstrap_servers=bootstrap, bars_topic=topics["bars"],
                                  dead_letter_topic=topics["dead_letter"], checkpoint=str(self.checkpoint),
                                  query_name=query_name, max_offsets_per_trigger=str(batch_size), warehouse_uri=uri,
                                  spark_connect_url=spark_connect_url() if session == "connect" else "")

    def launch(self, label: str) -> dict:
        """Run the job to its end; launch-to-exit seconds and the peak memory of its processes (and
        of the Spark Connect server it ran on)."""
        package_job(self.package)
        log_file = self.work_dir / f"{label}.log"
        output = logging.getLogger(f"bench.spark_submit.{self.query_name}.{label}")
        output.propagate, output.level = False, logging.INFO
        handler = logging.FileHandler(log_file)
        output.addHandler(handler)
        hook = _DrainHook(output, conn_id=SPARK_CONN_ID, py_files=str(self.package),
                          **self.submit.spark_submit_options())
        groups = {"driver": descendants_of_this_process}
        if self.session == "connect":
            groups["spark-connect"] = pidfile_tree(STATE_DIR / "pids" / "spark-connect.pid")
        try:
            with peak_memory(groups) as peaks:
                launched = datetime.now(UTC)
                started = time.perf_counter()
                hook.submit(DRAIN_APP)
                seconds = time.perf_counter() - started
                exited = datetime.now(UTC)
        finally:
            output.removeHandler(handler)
            handler.close()
        return {"end_to_end_seconds": round(seconds, 3), "launched": launched, "exited": exited,
                "memory": peaks["driver"].as_dict(), "log": str(log_file),
                **({"server_memory": peaks["spark-connect"].as_dict()} if "spark-connect" in peaks else {})}

    def remove_checkpoint(self) -> None:
        shutil.rmtree(self.checkpoint, ignore_errors=True)


def _rates(figures: dict, messages: int) -> dict:
    launched, exited = figures.pop("launched"), figures.pop("exited")
    return {**figures, "rows_per_second_end_to_end": round(messages / figures["end_to_end_seconds"]),
            "launched_at": launched.isoformat(), "exited_at": exited.isoformat()}


def run_drain(drain: Drain, generated: Generated) -> tuple[dict, dict]:
    """The drain of every message, then the no-op launch on the same checkpoint."""
    messages = generated.manifest.messages
    with committed_progress(drain.uri, drain.query_name, messages, f"drain ({drain.session})"):
        figures = drain.launch(f"drain-{drain.session}")
    figures.update(batch_figures(drain.uri, drain.query_name, figures["launched"], figures["exited"]))
    figures["check"] = check_exact(drain.uri, generated.manifest, f"drain ({drain.session})")
    noop = drain.launch(f"noop-drain-{drain.session}")
    noop.pop("launched"), noop.pop("exited")
    noop["check"] = check_exact(drain.uri, generated.manifest, "no-op drain")
    return _rates(figures, messages), noop


def run_baseline(bootstrap: str, topics: dict[str, str], uri: str, batch_size: int, generated: Generated,
                 work_dir: Path) -> dict:
    query_name = "bench_plain_consumer"
    command = [sys.executable, "-m", "bench.plain_consumer", "--bootstrap-servers", bootstrap,
               "--bars-topic", topics["bars"], "--dead-letter-topic", topics["dead_letter"],
               "--query-name", query_name, "--max-offsets-per-trigger", str(batch_size)]
    log_file = work_dir / "plain-consumer.log"
    with committed_progress(uri, query_name, generated.manifest.messages, "baseline (plain consumer)"), \
            peak_memory({"consumer": descendants_of_this_process}) as peaks, log_file.open("w") as log:
        launched = datetime.now(UTC)
        started = time.perf_counter()
        result = subprocess.run(command, cwd=PROJECT_ROOT, env={**os.environ, "WAREHOUSE_URI": uri},
                                stdout=log, stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - started
        exited = datetime.now(UTC)
    if result.returncode != 0:
        raise RuntimeError(f"the plain consumer failed ({result.returncode}): see {log_file}")
    figures = {"end_to_end_seconds": round(seconds, 3), "launched": launched, "exited": exited,
               "memory": peaks["consumer"].as_dict(), "log": str(log_file)}
    figures.update(batch_figures(uri, query_name, launched, exited))
    figures["check"] = check_exact(uri, generated.manifest, "baseline")
    return _rates(figures, generated.manifest.messages)


def run_ceiling(uri: str, generated: Generated, source_topic: str) -> dict:
    """COPY of the final rows, built beforehand, into the empty table: no staging, no upsert."""
    rows = final_rows_csv(generated.final, source_topic)
    statement = sql.SQL("COPY market.bars ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, FINAL_ROW_COLUMNS)))
    with psycopg.connect(uri) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(statement) as copy:
            copy.write(rows)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "rows": generated.manifest.final_rows,
            "rows_per_second": round(generated.manifest.final_rows / seconds),
            "check": check_exact(uri, generated.manifest, "ceiling")}


def run(generated: Generated, bootstrap: str, warehouse_uri: str, run_id: str, batch_size: int,
        work_dir: Path) -> dict:
    topics = {"bars": f"bench.bars.{run_id}", "dead_letter": f"bench.dead-letter.{run_id}"}
    messages = generated.manifest.messages
    with scratch_topics(bootstrap, {topics["bars"]: 2, topics["dead_letter"]: 1}):
        producer = kafka_io.make_producer({"bootstrap.servers": bootstrap})
        started = time.perf_counter()
        kafka_io.produce_all(producer, progress(
            (kafka_io.Message(topics["bars"], key, value) for key, value in generated.messages),
            total=messages, desc="produce", unit="msg", unit_scale=True))
        produce_seconds = time.perf_counter() - started
        partitions = {f"{topic}/{partition}": end for (topic, partition), end in
                      kafka_io.end_offsets({"bootstrap.servers": bootstrap}, topics.values()).items()}
        if sum(partitions.values()) != messages:
            raise RuntimeError(f"the topics hold {partitions}, {messages} messages were produced")

        sessions = {}
        for session in DRAIN_SESSIONS:
            with scratch_database(warehouse_uri, f"market_bench_{run_id}_drain_{session}") as uri:
                drain = Drain(bootstrap, topics, f"bench_drain_{session}_{run_id}", uri, batch_size, work_dir,
                              session)
                try:
                    drain_figures, noop_figures = run_drain(drain, generated)
                finally:
                    drain.remove_checkpoint()
            sessions[session] = {"drain": drain_figures, "fixed_cost": noop_figures}
        with scratch_database(warehouse_uri, f"market_bench_{run_id}_plain") as uri:
            baseline = run_baseline(bootstrap, topics, uri, batch_size, generated, work_dir)
        with scratch_database(warehouse_uri, f"market_bench_{run_id}_ceiling") as uri:
            ceiling = run_ceiling(uri, generated, topics["bars"])

    def ratio(drain_rate, baseline_rate):
        return round(drain_rate / baseline_rate, 3) if drain_rate and baseline_rate else None

    for figures in sessions.values():
        figures["ratios"] = {
            "end_to_end": ratio(figures["drain"]["rows_per_second_end_to_end"], baseline["rows_per_second_end_to_end"]),
            "steady_state": ratio(figures["drain"]["steady_state_rows_per_second"],
                                  baseline["steady_state_rows_per_second"]),
        }
    return {
        "topics": topics, "partitions": partitions, "batch_size": batch_size,
        "produce": {"seconds": round(produce_seconds, 3), "messages_per_second": round(messages / produce_seconds)},
        "sessions": sessions,
        "baseline": baseline,
        "ceiling": ceiling,
    }
