"""The Spark drain against real Kafka and Postgres, through spark-submit as the DAG runs it.

A crash at a chosen point of a batch (before its transaction, after its commit) is tested here;
SIGKILL of spark-submit at random moments and inside a sink transaction is the drain-kill drill's
(tests/integration/test_drills.py)."""

import json
import os
import signal
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.bars import FETCHED_AT, make_bar, produce, produce_bars, raw
from harness.drain_job import DrainJob
from harness.services import private_spark_connect
from harness.waits import wait_until
from harness.warehouse import bars_snapshot, batches, fetch_all, sink_waiting_on_a_lock
from market_pipeline import kafka_io, warehouse
from market_pipeline.bars import RejectedBar
from market_pipeline.in_airflow.connections import spark_connect_url
from market_pipeline.settings import STATE_DIR

pytestmark = pytest.mark.integration
CRASHING_APP = Path(__file__).with_name("crashing_drain.py")


@pytest.fixture(params=["connect", "per_run"])
def drain(request, kafka_bootstrap, topics, fresh_warehouse, tmp_path) -> DrainJob:
    """The drain in both of its sessions: on the test stack's Spark Connect server, and on a
    Spark of its own."""
    url = spark_connect_url() if request.param == "connect" else ""
    return DrainJob(kafka_bootstrap, topics, tmp_path / "checkpoint", fresh_warehouse, spark_connect_url=url)


def assert_ran(result):
    assert result.returncode == 0, result.stderr[-3000:]


def expected_rows(bars):
    return sorted(
        (b.symbol, b.interval, b.bar_time, b.open, b.high, b.low, b.close, b.volume, b.fetched_at) for b in bars
    )


def assert_fully_drained(drain: DrainJob):
    ends = kafka_io.end_offsets({"bootstrap.servers": drain.bootstrap}, drain.topics.values())
    assert warehouse.committed_offsets(drain.warehouse_uri, drain.query_name) == {
        key: end for key, end in ends.items() if end > 0
    }


def test_should_load_each_bar_once_latest_fetch_winning_and_quarantine_the_rest(drain):
    later = FETCHED_AT + timedelta(hours=1)
    msft = [make_bar("MSFT", minute) for minute in (0, 5, 10)]
    msft_revised = make_bar("MSFT", 10, close="103.00", fetched_at=later)
    tsla_new = make_bar("TSLA", 0, close="105.00", fetched_at=later + timedelta(hours=1))
    produce_bars(drain.bootstrap, drain.topics["bars"],
                 [*msft, msft[1], msft_revised, make_bar("TSLA", 0, close="90.00"), tsla_new])
    broken = {
        "not json": raw("this is not json"),
        "missing fields": raw({"symbol": "MSFT", "open": "1.0"}),
        "high below close": raw({**_message(make_bar("GOOGL", 0)), "high": "100.50"}),
        "negative volume": raw({**_message(make_bar("GOOGL", 5)), "volume": -5}),
        "bad bar_time": raw({**_message(make_bar("GOOGL", 10)), "bar_time": "24/11/2026 09:30"}),
        "text price": raw({**_message(make_bar("GOOGL", 15)), "close": "n/a"}),
    }
    produce(drain.bootstrap, drain.topics["bars"], [(b"BAD", value) for value in broken.values()])
    rejected = RejectedBar("GOOGL", "5min", {"timestamp": "2026-11-24 09:30:00", "2. high": "x"},
                           "high: Input should be a valid decimal", FETCHED_AT)
    produce(drain.bootstrap, drain.topics["dead_letter"], [(b"GOOGL", rejected.to_message())])

    assert_ran(drain.run())

    assert bars_snapshot(drain.warehouse_uri) == expected_rows([msft[0], msft[1], msft_revised, tsla_new])
    reasons = sorted(reason for (reason,) in fetch_all(drain.warehouse_uri, "SELECT reason FROM market.quarantine"))
    assert len(reasons) == len(broken) + 1, "every bad record is kept"
    for expected in ("not a bar", "interval missing", "high is below", "negative volume", "bar_time",
                     "close missing, not a number", "rejected at fetch: high: Input should be a valid decimal"):
        assert any(expected in reason for reason in reasons), (expected, reasons)
    quarantined_raw = fetch_all(drain.warehouse_uri, "SELECT raw_value FROM market.quarantine")
    assert ("this is not json",) in quarantined_raw
    assert_fully_drained(drain)

    # A second run with nothing new: no batch, no change.
    before = bars_snapshot(drain.warehouse_uri)
    assert_ran(drain.run())
    assert bars_snapshot(drain.warehouse_uri) == before
    assert len(batches(drain.warehouse_uri, drain.query_name)) == 1

    # An older revision arriving late never overwrites a newer one; new bars still land.
    produce_bars(drain.bootstrap, drain.topics["bars"], [make_bar("TSLA", 0, close="95.00", fetched_at=later),
                                                         make_bar("TSLA", 5)])
    assert_ran(drain.run())
    rows = bars_snapshot(drain.warehouse_uri)
    assert [row[6] for row in rows if row[0] == "TSLA"] == [Decimal("105.000000"), Decimal("101.000000")]


def test_should_end_without_a_batch_on_an_empty_topic(drain):
    started = time.monotonic()
    assert_ran(drain.run())
    print(f"empty drain took {time.monotonic() - started:.1f} s")
    assert batches(drain.warehouse_uri, drain.query_name) == []
    assert bars_snapshot(drain.warehouse_uri) == []


def test_should_fail_when_the_sink_fails_and_load_on_the_next_run(drain):
    bar = make_bar("MSFT", 0)
    produce_bars(drain.bootstrap, drain.topics["bars"], [bar])
    # The same warehouse on port 1, where nothing listens, whatever POSTGRES_PORT is.
    parts = urlsplit(drain.warehouse_uri)
    unreachable = parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:1").geturl()
    result = drain.run(WAREHOUSE_URI=unreachable)
    assert result.returncode != 0
    # On a Spark Connect server the sink's error comes back inside the query's failure.
    assert "connection failed" in (result.stdout + result.stderr).lower(), result.stdout[-3000:]
    assert_ran(drain.run())
    assert bars_snapshot(drain.warehouse_uri) == expected_rows([bar])


def _message(bar) -> dict:
    return json.loads(bar.to_message())


def _large_drain(drain: DrainJob) -> list:
    """30,000 distinct bars in batches of 7,500: a crash lands in the middle of the drain."""
    bars = [make_bar(symbol, 5 * i) for i in range(10_000) for symbol in ("MSFT", "TSLA", "GOOGL")]
    produce_bars(drain.bootstrap, drain.topics["bars"], bars)
    drain.max_offsets_per_trigger = 7_500
    return bars


def _assert_exact_after_rerun(drain: DrainJob, bars: list) -> str:
    server_log = STATE_DIR / "logs" / "spark-connect.log"
    logged_before = server_log.stat().st_size if drain.spark_connect_url else 0
    rerun = drain.run()
    assert_ran(rerun)
    assert bars_snapshot(drain.warehouse_uri) == expected_rows(bars)
    recorded = batches(drain.warehouse_uri, drain.query_name)
    assert sum(messages for _, _, messages in recorded) == len(bars), "each message committed exactly once"
    assert_fully_drained(drain)
    if drain.spark_connect_url:  # the sink ran in the Python worker beside the test stack's server
        with server_log.open() as log:
            log.seek(logged_before)
            return log.read()
    return rerun.stdout + rerun.stderr  # the Python driver's output reaches spark-submit's stdout


@pytest.mark.parametrize("crash_point", ["before", "after"])
def test_should_be_exact_after_kill_9_around_the_commit(drain, crash_point):
    bars = _large_drain(drain)
    crashed = drain.run(CRASHING_APP, CRASH_POINT=crash_point, CRASH_BATCH="1")
    assert crashed.returncode != 0
    committed = [batch_id for batch_id, _, _ in batches(drain.warehouse_uri, drain.query_name)]
    assert committed == ([0] if crash_point == "before" else [0, 1])

    log = _assert_exact_after_rerun(drain, bars)
    if crash_point == "after":
        assert "batch 1 of test_drain already committed: skipped" in log


def test_backlog_says_when_spark_is_worth_starting(drain):
    from market_pipeline.in_airflow.params import RunTarget
    from market_pipeline.in_airflow.tasks import backlog

    target = RunTarget(bars_topic=drain.topics["bars"], dead_letter_topic=drain.topics["dead_letter"],
                       query_name=drain.query_name)

    def behind():
        return sum(p["end_offset"] - p["committed_offset"] for p in backlog(target, drain.warehouse_uri))

    assert behind() == 0, "an empty topic needs no drain"
    produce_bars(drain.bootstrap, drain.topics["bars"], [make_bar("MSFT", minute) for minute in (0, 5, 10)])
    produce(drain.bootstrap, drain.topics["dead_letter"], [(b"MSFT", raw({"reason": "bad"}))])
    assert behind() == 4
    assert_ran(drain.run())
    assert behind() == 0


def test_a_drain_killed_between_its_load_and_its_refresh_leaves_the_next_run_to_level_the_reporting(drain):
    from market_pipeline.in_airflow.params import RunTarget
    from market_pipeline.in_airflow.tasks import has_backlog

    target = RunTarget(bars_topic=drain.topics["bars"], dead_letter_topic=drain.topics["dead_letter"],
                       query_name=drain.query_name)
    produce_bars(drain.bootstrap, drain.topics["bars"], [make_bar("MSFT", minute) for minute in (0, 5, 10)])
    # The DAG's drain task refreshes after spark-submit returns; dying right there leaves this.
    assert_ran(drain.run())
    assert fetch_all(drain.warehouse_uri, "SELECT count(*) FROM market.bars") == [(3,)]
    assert fetch_all(drain.warehouse_uri, "SELECT count(*) FROM reporting.bar_metrics") == [(0,)]

    assert not has_backlog(target, drain.warehouse_uri), "nothing left in Kafka: no Spark run"
    every_table = ("SELECT 'bar_metrics', m::text FROM reporting.bar_metrics AS m"
                   " UNION ALL SELECT 'daily_bars', d::text FROM reporting.daily_bars AS d ORDER BY 1, 2")
    leveled = fetch_all(drain.warehouse_uri, every_table)
    assert [table for table, _ in leveled] == ["bar_metrics"] * 3 + ["daily_bars"] * 2, \
        "three bars, one session (regular and extended hours)"
    assert fetch_all(drain.warehouse_uri, "SELECT count(*) FROM market.reporting_backlog") == [(0,)]
    warehouse.rebuild_reporting(drain.warehouse_uri)
    assert fetch_all(drain.warehouse_uri, every_table) == leveled


@pytest.fixture(scope="module")
def private_server():
    """A Spark Connect server of this module's own, as the stack runs it: these tests kill it."""
    with private_spark_connect() as server:
        yield server


@pytest.fixture
def drain_on_private_server(private_server, kafka_bootstrap, topics, fresh_warehouse, tmp_path) -> DrainJob:
    return DrainJob(kafka_bootstrap, topics, tmp_path / "checkpoint", fresh_warehouse,
                    spark_connect_url=private_server.url)


def test_a_spark_connect_server_killed_inside_a_batch_commits_nothing_of_it_and_the_rerun_is_exact(
        drain_on_private_server, private_server):
    drain = drain_on_private_server
    bars = _large_drain(drain)
    with warehouse.transaction(drain.warehouse_uri, application_name="test_lock") as lock:
        # The sink reads its batches but cannot record one: it waits there, its writes made.
        lock.execute("LOCK TABLE market.ingest_batches IN SHARE ROW EXCLUSIVE MODE")
        job = drain.start()
        assert wait_until(lambda: sink_waiting_on_a_lock(drain.warehouse_uri, drain.query_name), 180, interval=0.05)
        private_server.kill_server()
        assert job.wait(120) != 0, "the launch fails with its server"
    assert batches(drain.warehouse_uri, drain.query_name) == []
    assert fetch_all(drain.warehouse_uri, "SELECT count(*) FROM market.bars") == [(0,)]

    private_server.wait_until_serving()  # its supervisor starts it again
    _assert_exact_after_rerun(drain, bars)


def test_a_launch_killed_mid_drain_on_spark_connect_leaves_the_rerun_exact(drain_on_private_server):
    """The query outlives its killed launch on the server; the rerun takes its checkpoint over."""
    drain = drain_on_private_server
    bars = _large_drain(drain)
    job = drain.start()
    assert wait_until(lambda: job.poll() is not None or batches(drain.warehouse_uri, drain.query_name), 180,
                      interval=0.05)
    assert job.poll() is None, "still draining when killed"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    _assert_exact_after_rerun(drain, bars)
