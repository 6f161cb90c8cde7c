"""The drain on a real Spark standalone cluster: a master and one worker started for this module
(`harness.services.private_spark_cluster`, made as `bin/stack start --spark-cluster` makes them),
and the DAG's own drain task pointed at it by a run's `spark_conn_id` with `drain_session`
per_run, as docs/scaling.md describes for a cluster.

A sandbox run of market_bars_pipeline drains 200,000 bars produced here, plus the bars its fetch
publishes, after a direct launch of the same drain on the cluster (same query, checkpoint and
warehouse) was SIGKILLed mid-drain: the table must equal the manifest and every message be
committed by exactly one batch. The worker's folders say where the work ran: the run's
application has an executor there that fetched the connector's jars and the job's zip and read
the sandbox's topics. The drain's executors run no Python, so a probe job shows that Python on
them imports the package from the `--py-files` zip, with the venv's interpreter, in the worker's
processes.

Marked live_dag: it runs market_bars_pipeline, and the module's one cluster (one core) serves
both tests, so they belong in one group.
"""

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from drills.counts import BarKey, ServedBars, check_each_message_committed_once, check_warehouse_holds_served_bars
from drills.report import Report
from harness.bars import FETCHED_AT, make_bar, produce_bars
from harness.drain_job import DrainJob
from harness.sandbox import airflow_with, run_dag
from harness.services import HOST, PrivateSparkCluster, private_spark_cluster
from harness.waits import wait_for
from harness.warehouse import batches
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.in_airflow.drain import package_job
from market_pipeline.settings import CHECKPOINTS_DIR, JOB_PACKAGE_ZIP
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.live_dag]
DAG_ID = "market_bars_pipeline"
WATCHLIST = ["TSLA"]  # the run's fetch: 100 bars for a delayed key at 11:00
SYMBOLS = ("MSFT", "GOOGL", "AAPL", "AMZN")  # the bars produced here: none of the fetch's
BARS, REVISION_EVERY = 200_000, 50
# About 8 batches of the 204,000 messages: the kill lands after the first commit, well before the end.
BATCH_MESSAGES = 25_000
# The executor's Kafka source logs each read (local_stack.spark_cluster.EXECUTOR_LOGGERS).
KAFKA_READ = re.compile(r"KafkaDataConsumer: From Kafka topicPartition=(\S+)-\d+ \S+ read (\d+) records")
CONNECTOR_JARS = ("spark-sql-kafka-0-10_2.13-", "kafka-clients-")
# Run by the probe's one task, on an executor: where the Python worker runs and what it imports.
PROBE_APP = """
import json, os, sys

import psutil
from pyspark.sql import SparkSession


def where(_):
    import market_pipeline
    return {"python": sys.executable, "module": market_pipeline.__file__, "cwd": os.getcwd(),
            "ancestors": [process.pid for process in psutil.Process().parents()]}


spark = SparkSession.builder.appName("py-files-probe").getOrCreate()
print(json.dumps(spark.sparkContext.parallelize([0], 1).map(where).first()))
spark.stop()
"""


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    return airflow_with(DAG_ID)


@pytest.fixture(scope="module")
def cluster():
    with private_spark_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster_conn_id(api, cluster):
    """A spark connection to the cluster, for the run's spark_conn_id: the stack's own spark_default
    stays as other tests use it."""
    conn_id = f"spark_cluster_{uuid.uuid4().hex[:8]}"
    api.call("POST", "connections", json={"connection_id": conn_id, "conn_type": "spark",
                                          "host": f"spark://{HOST}", "port": cluster.port})
    try:
        yield conn_id
    finally:
        api.request("DELETE", f"connections/{conn_id}")


@pytest.fixture(scope="module")
def box(free_tier_sandbox):
    return free_tier_sandbox("delayed", start=TRADING_MORNING, watchlist=WATCHLIST, drain_session="per_run",
                             max_offsets_per_trigger=BATCH_MESSAGES)


def produce_manifest(bootstrap: str, topic: str) -> tuple[dict[BarKey, tuple], int]:
    """Produce BARS bars of SYMBOLS, every REVISION_EVERY-th again with a later fetch and another
    close; return what market.bars must hold for them ({key: (open, high, low, close, volume)})
    and the messages produced."""
    revised_at = FETCHED_AT + timedelta(hours=1)
    bars, manifest = [], {}
    for i in range(BARS):
        symbol, minute = SYMBOLS[i % len(SYMBOLS)], 5 * (i // len(SYMBOLS))
        bar = make_bar(symbol, minute, close=f"{90 + i % 2000 / 100:.2f}")
        bars.append(bar)
        if i % REVISION_EVERY == 0:
            bar = make_bar(symbol, minute, close=f"{110 + i % 700 / 100:.2f}", fetched_at=revised_at)
            bars.append(bar)
        manifest[(bar.symbol, bar.interval, bar.bar_time)] = (bar.open, bar.high, bar.low, bar.close, bar.volume)
    produce_bars(bootstrap, topic, bars)
    return manifest, len(bars)


def messages_committed(uri: str, query_name: str) -> int:
    return sum(messages for _, _, messages in batches(uri, query_name))


def executor_folders(cluster: PrivateSparkCluster, app_id: str) -> list[Path]:
    """The worker's folder of each executor of the application: what it fetched, and its stderr."""
    return sorted((cluster.work_dir / app_id).iterdir())


def records_read(stderr: str, topics: set[str]) -> Counter[str]:
    """Records the executor's Kafka reads read, per topic of `topics`."""
    read: Counter[str] = Counter()
    for topic, records in KAFKA_READ.findall(stderr):
        if topic in topics:
            read[topic] += int(records)
    return read


def test_a_dag_run_drains_on_the_cluster_after_a_killed_launch_counting_each_message_once(
        api, box, cluster, cluster_conn_id, kafka_bootstrap):
    target = box.target.model_copy(update={"spark_conn_id": cluster_conn_id})
    uri, query_name = box.warehouse_uri, target.query_name
    topics = {"bars": target.bars_topic, "dead_letter": target.dead_letter_topic}
    manifest, produced = produce_manifest(kafka_bootstrap, target.bars_topic)

    # The same drain launched directly on the cluster, SIGKILLed (spark-submit's process group:
    # its JVM and the Python driver) once it has committed a batch, while it drains the next.
    killed = DrainJob(kafka_bootstrap, topics, CHECKPOINTS_DIR / query_name, uri, query_name=query_name,
                      max_offsets_per_trigger=BATCH_MESSAGES, master=cluster.url)
    job = killed.start()
    wait_for(lambda: job.poll() is not None or batches(uri, query_name), 300,
             lambda: f"the launch committed no batch: exit {job.poll()}, master {cluster.state()}")
    assert job.poll() is None, "the launch ended before its kill"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    before_run = messages_committed(uri, query_name)
    assert 0 < before_run < produced, "the kill landed inside the drain"

    # The DAG's run: its fetch publishes the watchlist's bars, its drain resumes on the cluster.
    served = ServedBars(box.simulator)
    run_id, run, states = run_dag(api, DAG_ID, target)
    assert run["state"] == "success", states
    assert states == {"fetch_bars": "success", "drain_to_warehouse": "success"}
    assert served.per_symbol() == {"TSLA": 100}

    report = Report("spark-cluster")
    served.bars.update(manifest)  # the manifest: the bars the run's fetch was served and those produced here
    check_warehouse_holds_served_bars(report, uri, served)
    check_each_message_committed_once(report, kafka_bootstrap, topics.values(), uri, query_name)
    assert report.ok, report.failures

    # The run's drain was spark-submit on the cluster's master...
    task_logs = (Path(os.environ["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
                 / "task_id=drain_to_warehouse").glob("attempt=*.log")
    assert any(f"--master {cluster.url}" in log.read_text() for log in task_logs)
    # ...registered as an application of the query's name after the killed launch's...
    state = cluster.state()
    apps = sorted((app for app in [*state["activeapps"], *state["completedapps"]] if app["name"] == query_name),
                  key=lambda app: app["starttime"])
    assert len(apps) == 2, apps
    # ...whose executor, in the worker's folder, fetched the connector's jars and the job's zip
    # (--jars, --py-files) and read the sandbox's topics: at least what the run committed.
    [executor] = executor_folders(cluster, apps[-1]["id"])
    fetched = {path.name for path in executor.iterdir()}
    assert JOB_PACKAGE_ZIP.name in fetched
    assert all(any(name.startswith(jar) for name in fetched) for jar in CONNECTOR_JARS), fetched
    read = records_read((executor / "stderr").read_text(), set(topics.values()))
    assert read[target.bars_topic] > 0 and sum(read.values()) >= messages_committed(uri, query_name) - before_run


def test_python_on_the_clusters_executors_imports_the_package_shipped_with_py_files(cluster, tmp_path):
    package = tmp_path / JOB_PACKAGE_ZIP.name
    package_job(package)  # as the drain task zips it
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE_APP)
    result = subprocess.run([str(Path(sys.executable).parent / "spark-submit"), "--master", cluster.url,
                             "--py-files", str(package), str(probe)],
                            capture_output=True, text=True, timeout=300, start_new_session=True)
    assert result.returncode == 0, result.stderr[-3000:]
    where = json.loads(result.stdout.strip().splitlines()[-1])

    # The task ran in a Python worker under the cluster's worker, in its executor's folder...
    assert cluster.worker.pid in where["ancestors"]
    executor = Path(where["cwd"])
    assert executor.parent.parent == cluster.work_dir
    # ...with the interpreter of PYSPARK_PYTHON (the venv's), and imported the package from the
    # zip the executor fetched, not from the venv's editable install.
    assert where["python"] == os.environ["PYSPARK_PYTHON"]
    assert executor / where["module"] == executor / package.name / "market_pipeline" / "__init__.py"
