"""A private Kafka broker and a private PostgreSQL cluster, for the drills that kill or stop one.

The dev stack's broker and database are shared (Airflow's metadata database lives on the same
PostgreSQL), so a drill never stops them: it starts its own from the same binaries and
configuration the stack uses (`ops/kafka/server.properties.template`, the Kafka jars of
`bin/stack setup`, PostgreSQL 15, `include/sql/bootstrap/`), on free ports, in a temporary
folder that goes away with it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from market_pipeline.settings import JARS_DIR, PROJECT_ROOT

HOST = "127.0.0.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BOOTSTRAP_SQL = PROJECT_ROOT / "include" / "sql" / "bootstrap"
KAFKA_TEMPLATE = PROJECT_ROOT / "ops" / "kafka" / "server.properties.template"
KAFKA_LOG4J = PROJECT_ROOT / "ops" / "kafka" / "log4j2.properties"
KAFKA_CLASSPATH = f"{JARS_DIR / 'kafka-broker'}/*"
# The database the drills' warehouse lives in, inside the private cluster.
WAREHOUSE_DATABASE = "market_data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float, alive=lambda: True) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if not alive():
                raise RuntimeError(f"the process meant to listen on port {port} exited") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port} after {seconds} s") from None
            time.sleep(0.2)


class PrivateKafka:
    """A single-node KRaft broker like the stack's, on free ports; `kill` is SIGKILL, `start` again
    recovers from the same log folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.controller_port = free_port(), free_port()
        self.properties = folder / "server.properties"
        self.log = folder / "kafka.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def format(self) -> None:
        values = {"@HOST@": HOST, "@PORT@": str(self.port), "@CONTROLLER_PORT@": str(self.controller_port),
                  "@DATA_DIR@": str(self.folder / "data")}
        text = KAFKA_TEMPLATE.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        self.properties.write_text(text)
        cluster_id = self._storage_tool("random-uuid").strip()
        self._storage_tool("format", "-t", cluster_id, "-c", str(self.properties))

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                ["java", "-Xms256m", "-Xmx512m", f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
                 "-cp", KAFKA_CLASSPATH, "kafka.Kafka", str(self.properties)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, 90, alive=lambda: self.process.poll() is None)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown, no flush."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def _storage_tool(self, *args: str) -> str:
        return subprocess.run(["java", "-cp", KAFKA_CLASSPATH, "kafka.tools.StorageTool", *args],
                              check=True, capture_output=True, text=True).stdout


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
    """A PostgreSQL 15 cluster with the stack's roles and warehouse databases
    (`include/sql/bootstrap/`), market_etl logging in over TCP with its password as on the stack.
    `stop("immediate")` is a crash: open transactions are lost, recovery runs at the next start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.warehouse_password = os.environ.get("POSTGRES_WAREHOUSE_PASSWORD", "market-local")

    def uri(self, database: str = WAREHOUSE_DATABASE) -> str:
        return f"postgresql://market_etl:{self.warehouse_password}@{HOST}:{self.port}/{database}"

    def init(self) -> None:
        _chown_postgres(self.folder)
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")

    def start(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "postgres.log", "-w", "-t", "60",
                          "-o", f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.folder}",
                          "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return subprocess.run(_postgres_user(PG_BIN / "pg_ctl", "-D", self.data, "status"), cwd="/",
                              capture_output=True).returncode == 0

    def bootstrap(self) -> None:
        """The stack's roles and databases, then the warehouse's own grants, as bin/stack does."""
        passwords = {f"{role}_password": os.environ.get(f"POSTGRES_{role.upper()}_PASSWORD", default)
                     for role, default in (("airflow", "airflow-local"), ("warehouse", "market-local"),
                                           ("reader", "reader-local"))}
        variables = [arg for name, value in passwords.items() for arg in ("-v", f"{name}={value}")]
        self._psql("postgres", BOOTSTRAP_SQL / "databases_and_roles.sql", *variables)
        self._psql(WAREHOUSE_DATABASE, BOOTSTRAP_SQL / "warehouse_database.sql")

    def _psql(self, database: str, script: Path, *args: str) -> None:
        with script.open() as stdin:
            self._as_postgres(PG_BIN / "psql", "-h", self.folder, "-p", str(self.port), "-U", "postgres",
                              "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", *args, stdin=stdin)

    @staticmethod
    def _as_postgres(*command, stdin=None) -> None:
        # From /: the postgres user may not be able to read the caller's working folder.
        result = subprocess.run(_postgres_user(*command), cwd="/", stdin=stdin, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(str(command[0])).name} failed: {result.stderr.strip() or result.stdout}")


def _postgres_user(*command) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user (bin/stack's as_postgres)."""
    args = [str(part) for part in command]
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else args


def _chown_postgres(path: Path) -> None:
    if os.getuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="drill-postgres-"))
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
