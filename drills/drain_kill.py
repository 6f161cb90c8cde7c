"""Drill `drain-kill`: SIGKILL the drain's Spark at seeded random moments of a large drain, then
let it finish, and count. With `drain_session` per_run that is spark-submit (the Spark of the
launch's own); with connect, a private Spark Connect server as the stack runs it (under its
supervisor, which starts it again) while a launch drains through it: each kill takes the server's
JVM and the sink's Python worker, and the launch fails with them.

The drain is launched as the integration tests launch it (`harness.drain_job.DrainJob`:
spark-submit, the project's drain app, its own process group) against topics of its own on the
stack's broker and a private PostgreSQL warehouse. The workload is `bars` distinct bars (every
50th also revised with a later fetch and another close), one malformed message per 1,000 bars on
the bars topic and one rejected row per 1,000 on the dead-letter topic. Each attempt is killed
a random delay (seeded, 0-4 s) after it planned its first new batch, unless it ended by itself
first, except the first, which is killed inside a batch's sink transaction, after the warehouse's
writes and before their commit: the drill holds market.ingest_batches locked against inserts, so
the sink waits on it at the batch's record, and kills it there. After `kills` kills one last run
drains what is left. Then:

- market.bars holds each bar once with its latest revision: count, sum(volume), sum(close);
- each message was committed by exactly one batch: the messages over market.ingest_batches are
  the messages produced, and the committed offsets are Kafka's end offsets;
- each bad message is one quarantine row.

The batch size is set so a drain takes about BATCHES batches: small batches keep a single
attempt from finishing the whole drain between two kills.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from drills.counts import check_each_message_committed_once
from drills.report import Report
from harness.bars import FETCHED_AT, make_bar, produce
from harness.drain_job import DrainJob
from harness.services import PrivateSparkConnect, private_postgres, private_spark_connect
from harness.topics import own_topics
from harness.waits import wait_until
from harness.warehouse import batches, fetch_all, sink_transaction_open, sink_waiting_on_a_lock
from market_pipeline import warehouse
from market_pipeline.bars import RejectedBar
from market_pipeline.in_airflow.connections import kafka_config

SYMBOLS = ("TSLA", "MSFT", "GOOGL", "AAPL")
REVISION_EVERY, BAD_EVERY = 50, 1_000
BATCHES = 60
KILL_DELAY_SECONDS = (0.0, 4.0)  # after the attempt plans its first new batch; a batch takes ~2 s


@dataclass(frozen=True)
class Workload:
    messages: int
    bars: int
    sum_volume: int
    sum_close: Decimal
    quarantined: int


def run(report: Report, *, seed: int, bars: int, kills: int, drain_session: str = "per_run") -> None:
    rng = random.Random(seed)
    bootstrap = kafka_config()["bootstrap.servers"]
    with private_postgres() as postgres, own_topics(bootstrap) as topics, \
            tempfile.TemporaryDirectory(prefix="drill-drain-") as folder, \
            (private_spark_connect() if drain_session == "connect" else nullcontext()) as server:
        uri = postgres.uri()
        warehouse.apply_migrations(uri)
        report.step(f"private warehouse on port {postgres.port}; producing {bars:,} bars to {topics['bars']}")
        workload = produce_workload(bootstrap, topics, bars)
        drain = DrainJob(bootstrap, topics, Path(folder) / "checkpoint", uri, query_name="drill_drain_kill",
                         max_offsets_per_trigger=math.ceil(workload.messages / BATCHES),
                         spark_connect_url=server.url if server else "")
        target = f"the Spark Connect server on port {server.port}" if server else "spark-submit"
        report.step(f"produced {workload.messages:,} messages; drain batches of up to "
                    f"{drain.max_offsets_per_trigger:,}; killing {target} {kills} times (seed {seed})")

        killed_in_transaction = _kill_inside_a_sink_transaction(drain, uri, server)
        report.step(f"kill 1 {'inside' if killed_in_transaction else 'outside'} a sink transaction")
        [(rows_after_first_kill,)] = fetch_all(uri, "SELECT count(*) FROM market.bars")
        report.check("batches committed by the attempt killed before its commit", 0,
                     len(batches(uri, drain.query_name)))
        report.check("rows in market.bars after that kill", 0, rows_after_first_kill)
        landed = 1
        while landed < kills:
            job = drain.start()
            _wait_for_a_new_batch(job, drain.checkpoint)
            delay = rng.uniform(*KILL_DELAY_SECONDS)
            try:
                code = job.wait(timeout=delay)
                report.step(f"attempt {landed + 1} ended by itself (exit {code}) before its kill: "
                            f"{len(batches(uri, drain.query_name))} batches committed")
                break
            except subprocess.TimeoutExpired:
                in_transaction = sink_transaction_open(uri, drain.query_name)
                _kill(job, server)
                landed += 1
                report.step(f"kill {landed}, {delay:.1f} s after a new batch was planned, "
                            f"{'inside' if in_transaction else 'outside'} a sink transaction: "
                            f"{len(batches(uri, drain.query_name))} batches committed")

        final = drain.run()
        report.step(f"last run exited {final.returncode}: {len(batches(uri, drain.query_name))} batches committed")
        report.check("kills that landed while the drain ran", kills, landed)
        report.check("the first kill landed inside a sink transaction, before its commit", True, killed_in_transaction)
        report.check("exit code of the last run", 0, final.returncode)
        [(count, sum_volume, sum_close)] = fetch_all(uri, "SELECT count(*), sum(volume), sum(close) FROM market.bars")
        report.check("rows in market.bars", workload.bars, count)
        report.check("sum(volume)", workload.sum_volume, sum_volume)
        report.check("sum(close) (latest revisions)", workload.sum_close, sum_close)
        [(quarantined,)] = fetch_all(uri, "SELECT count(*) FROM market.quarantine")
        report.check("rows in market.quarantine", workload.quarantined, quarantined)
        check_each_message_committed_once(report, bootstrap, topics.values(), uri, drain.query_name)


def _kill_inside_a_sink_transaction(drain: DrainJob, uri: str, server: PrivateSparkConnect | None) -> bool:
    """Start the drain with batch records locked out, kill it while its sink waits at the first
    batch's record (its writes made, not committed), then lift the lock. Whether it got there."""
    with warehouse.transaction(uri, application_name="drill_lock") as lock:
        # SHARE ROW EXCLUSIVE lets the sink read its batches but not insert one (ROW EXCLUSIVE).
        lock.execute("LOCK TABLE market.ingest_batches IN SHARE ROW EXCLUSIVE MODE")
        job = drain.start()
        wait_until(lambda: job.poll() is not None or sink_waiting_on_a_lock(uri, drain.query_name), 240,
                   interval=0.05)
        waiting = sink_waiting_on_a_lock(uri, drain.query_name)
        _kill(job, server)
    return waiting


def _wait_for_a_new_batch(job: subprocess.Popen, checkpoint: Path) -> None:
    """Past the JVM's start: a kill lands in the work on batches, not always in start-up."""
    planned = _planned_batches(checkpoint)
    wait_until(lambda: job.poll() is not None or _planned_batches(checkpoint) != planned, float("inf"), interval=0.05)


def _kill(job: subprocess.Popen, server: PrivateSparkConnect | None) -> None:
    """SIGKILL of the launch's Spark: spark-submit's process group, or the Connect server, which
    the launch does not outlive; then wait until the server's supervisor has it serving again."""
    if server is None:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        return
    server.kill_server()
    job.wait()
    server.wait_until_serving()


def _planned_batches(checkpoint: Path) -> int:
    """Batches Spark has planned on this checkpoint: its offsets log, one file per batch."""
    offsets = checkpoint / "offsets"
    return sum(1 for entry in offsets.iterdir() if not entry.name.startswith(".")) if offsets.exists() else 0


def produce_workload(bootstrap: str, topics: dict[str, str], bars: int) -> Workload:
    """Produce the drill's messages; what the warehouse must hold afterwards."""
    revised_at = FETCHED_AT + timedelta(hours=1)
    values, dead_letters, final_close, sum_volume = [], [], Decimal(0), 0
    for i in range(bars):
        symbol, minute = SYMBOLS[i % len(SYMBOLS)], 5 * (i // len(SYMBOLS))
        bar = make_bar(symbol, minute, close=f"{90 + i % 2000 / 100:.2f}")
        values.append((symbol.encode(), bar.to_message()))
        if i % REVISION_EVERY == 0:
            bar = make_bar(symbol, minute, close=f"{110 + i % 700 / 100:.2f}", fetched_at=revised_at)
            values.append((symbol.encode(), bar.to_message()))
        final_close += bar.close
        sum_volume += bar.volume
        if i % BAD_EVERY == 0:
            values.append((b"BAD", f"not a bar {i}".encode()))
            dead_letters.append((symbol.encode(), RejectedBar(symbol, "5min", {"timestamp": str(minute)},
                                                              "rejected by the drill", FETCHED_AT).to_message()))
    produce(bootstrap, topics["bars"], values)
    produce(bootstrap, topics["dead_letter"], dead_letters)
    bad = len([value for key, value in values if key == b"BAD"])
    return Workload(messages=len(values) + len(dead_letters), bars=bars, sum_volume=sum_volume,
                    sum_close=final_close, quarantined=bad + len(dead_letters))
