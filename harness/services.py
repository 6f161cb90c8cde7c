"""A private Kafka broker, a private PostgreSQL cluster and a private Spark Connect server, for the
tests and drills that kill or stop one; a private Spark standalone cluster, for the tests that run
the drain on one.

The stack's broker and database are shared (Airflow's metadata database lives on the same
PostgreSQL), so a drill never stops them: it starts its own, made by the same code as the stack's
(`local_stack`), on free ports, in a temporary folder that goes away with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psutil

from local_stack import kafka, postgres, spark_cluster
from local_stack.ports import free_port, wait_for_port

HOST = "127.0.0.1"
# The database the drills' warehouse lives in, inside the private cluster.
WAREHOUSE_DATABASE = "market_data"

__all__ = ["free_port", "private_kafka", "private_postgres", "private_spark_cluster", "private_spark_connect",
           "PrivateKafka", "PrivatePostgres", "PrivateSparkCluster", "PrivateSparkConnect"]


class PrivateKafka:
    """A single-node KRaft broker like the stack's, on free ports; `kill` is SIGKILL, `start` again
    recovers from the same log folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.controller_port = free_port(), free_port()
        self.log = folder / "kafka.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def format(self) -> None:
        kafka.configure(self.folder, HOST, self.port, self.controller_port)

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(kafka.broker_command(kafka.properties_file(self.folder)), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        wait_for_port(HOST, self.port, 90, alive=lambda: self.process.poll() is None)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown, no flush."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        _stop_group(self.process)


def _stop_group(process: subprocess.Popen | None) -> None:
    """SIGTERM to the process's group, SIGKILL if it has not ended within a minute."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def private_kafka() -> Iterator[PrivateKafka]:
    folder = Path(tempfile.mkdtemp(prefix="drill-kafka-"))
    broker = PrivateKafka(folder)
    try:
        broker.format()
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL cluster with the stack's roles and warehouse databases, market_etl logging in
    over TCP with its password as on the stack. `stop("immediate")` is a crash: open transactions
    are lost, recovery runs at the next start."""

    def __init__(self, folder: Path) -> None:
        self.data = postgres.data_dir(folder)
        self.port = free_port()

    def uri(self, database: str = WAREHOUSE_DATABASE) -> str:
        return f"postgresql://market_etl:{os.environ['POSTGRES_WAREHOUSE_PASSWORD']}@{HOST}:{self.port}/{database}"

    def init(self) -> None:
        postgres.init_cluster(self.data)

    def start(self) -> None:
        postgres.start(self.data, HOST, self.port)

    def stop(self, mode: str = "fast") -> None:
        postgres.stop(self.data, mode)

    def running(self) -> bool:
        return postgres.running(self.data)

    def bootstrap(self) -> None:
        postgres.bootstrap(self.data, self.port)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="drill-postgres-"))
    os.chmod(folder, 0o755)  # the server's user must enter it (mkdtemp makes it 0700)
    cluster = PrivatePostgres(folder)
    try:
        cluster.init()
        cluster.start()
        cluster.bootstrap()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PrivateSparkConnect:
    """A Spark Connect server as the stack runs it (`python -m local_stack spark-connect-server`:
    the server under its supervisor) on a free port. `kill_server` is SIGKILL of the server's JVM
    and of the sink's Python worker beside it, as a crash would; the supervisor starts it again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / "spark-connect.log"
        self.supervisor: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"sc://{HOST}:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "STACK_HOST": HOST, "SPARK_CONNECT_PORT": str(self.port),
               "SPARK_CONNECT_MASTER": "local[2]"}
        with self.log.open("a") as log:
            self.supervisor = subprocess.Popen(
                [sys.executable, "-m", "local_stack", "spark-connect-server", str(self.folder)], env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_until_serving()

    def wait_until_serving(self, seconds: float = 180) -> None:
        wait_for_port(HOST, self.port, seconds, alive=lambda: self.supervisor.poll() is None)

    def server_processes(self) -> list[psutil.Process]:
        """The server's JVM and what it started (the Python workers), not the supervisor."""
        return psutil.Process(self.supervisor.pid).children(recursive=True)

    def kill_server(self) -> None:
        processes = self.server_processes()
        for process in processes:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(processes, timeout=30)

    def stop(self) -> None:
        _stop_group(self.supervisor)


@contextmanager
def _started_in_a_folder_of_its_own(service_type, prefix: str) -> Iterator:
    """`service_type(folder)` started in a new temporary folder; stopped and the folder removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    service = service_type(folder)
    try:
        service.start()
        yield service
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)


def private_spark_connect() -> AbstractContextManager[PrivateSparkConnect]:
    return _started_in_a_folder_of_its_own(PrivateSparkConnect, "private-spark-connect-")


class PrivateSparkCluster:
    """A Spark standalone master and one worker as `bin/stack start --spark-cluster` runs them
    (`local_stack.spark_cluster`), on free ports. The worker keeps each application's executor
    folders in `work_dir/APP_ID/EXECUTOR_ID/`: what the executor fetched and its stderr."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.webui_port, self.worker_webui_port = free_port(), free_port(), free_port()
        self.conf = spark_cluster.configure(folder)
        self.work_dir = folder / "work"
        self.master: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return spark_cluster.master_url(HOST, self.port)

    def start(self) -> None:
        self.master = self._launch("master", spark_cluster.master_command(self.conf, HOST, self.port,
                                                                          self.webui_port))
        wait_for_port(HOST, self.port, 90, alive=lambda: self.master.poll() is None)
        self.worker = self._launch("worker", spark_cluster.worker_command(self.conf, HOST, self.port,
                                                                          self.worker_webui_port, self.work_dir))
        spark_cluster.wait_for_workers(HOST, self.webui_port, 120, alive=lambda: all(
            process.poll() is None for process in (self.master, self.worker)))

    def state(self) -> dict:
        """The master's JSON: workers, active and completed applications."""
        return spark_cluster.master_state(HOST, self.webui_port)

    def stop(self) -> None:
        _stop_group(self.worker)  # and its executors, in its process group
        _stop_group(self.master)

    def _launch(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("a") as log:
            return subprocess.Popen(command, env=spark_cluster.environment(self.conf), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def private_spark_cluster() -> AbstractContextManager[PrivateSparkCluster]:
    return _started_in_a_folder_of_its_own(PrivateSparkCluster, "private-spark-cluster-")
