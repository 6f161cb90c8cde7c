"""Scratch resources of one benchmark run: its own warehouse databases and Kafka topics, named by
the run id, created at the start and removed at the end, so a run never touches what the demo,
the tests or another run (a CI smoke beside a full run) use.

A database is created by the server's superuser over the local socket (trusted, see
`bin/stack`'s `setup_postgres`), owned by the warehouse's login, given the per-database
bootstrap (`include/sql/bootstrap/warehouse_database.sql`) and migrated with
`market_pipeline.warehouse.apply_migrations`, as `bin/stack start` does for `market_data`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psutil
import psycopg
from psycopg import sql

from market_pipeline import kafka_io, warehouse
from market_pipeline.settings import SQL_DIR, STATE_DIR

POSTGRES_PIDFILE = STATE_DIR / "pids" / "postgres.pid"
SOCKET_OPTION = "unix_socket_directories="


def _socket_dir() -> str:
    """Where the stack's server listens locally: `bin/stack` starts it with this option."""
    pid = int(POSTGRES_PIDFILE.read_text().split()[0])
    for argument in psutil.Process(pid).cmdline():
        if argument.startswith(SOCKET_OPTION):
            return argument.removeprefix(SOCKET_OPTION).split(",")[0]
    raise RuntimeError(f"PostgreSQL (pid {pid}) has no {SOCKET_OPTION} option: was it started by bin/stack?")


def _admin(uri: str, database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=_socket_dir(), port=urlsplit(uri).port, user="postgres", dbname=database,
                           autocommit=True)


@contextmanager
def scratch_database(uri: str, name: str) -> Iterator[str]:
    """A new, migrated warehouse database `name` on the server of `uri`, as `uri`'s login; dropped
    at the end. Yields its URI."""
    owner = urlsplit(uri).username
    with _admin(uri) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
        admin.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    try:
        with _admin(uri, name) as admin:
            admin.execute((SQL_DIR / "bootstrap" / "warehouse_database.sql").read_text())
        scratch_uri = warehouse.with_database(uri, name)
        warehouse.apply_migrations(scratch_uri)
        yield scratch_uri
    finally:
        with _admin(uri) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_topics(bootstrap: str, partitions: dict[str, int]) -> Iterator[dict[str, int]]:
    """New topics (name: partitions), deleted at the end."""
    kafka_io.ensure_topics(bootstrap, partitions)
    try:
        yield partitions
    finally:
        kafka_io.delete_topics(bootstrap, partitions)
