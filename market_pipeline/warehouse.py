"""The one module that talks to the Postgres warehouse.

Called by the DAG (migrations, backlog check), the Spark sink and the command
line.  SQL lives in `include/sql/`: migrations are applied by yoyo (recorded in
its `_yoyo_migration` table, safe to re-run), named queries are read from
`include/sql/queries/<name>.sql` and always take bound parameters.

Loads are idempotent: bars are upserted on (symbol, interval, bar_time), and
every Spark micro-batch records its batch id in the same transaction
(`market_pipeline.sink`), so a replay changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import psycopg
from yoyo import get_backend, read_migrations

from market_pipeline.settings import MIGRATIONS_DIR, QUERIES_DIR, WAREHOUSE_CONN_ID


def warehouse_uri(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse's libpq URI, from its Airflow connection."""
    from airflow.sdk import Connection

    return Connection.get(conn_id).get_uri()


@cache
def query(name: str) -> str:
    """The text of `include/sql/queries/<name>.sql`."""
    return (QUERIES_DIR / f"{name}.sql").read_text()


@contextmanager
def transaction(uri: str, application_name: str = "market_pipeline") -> Iterator[psycopg.Connection]:
    """A connection whose work commits when the block ends and rolls back if it raises."""
    with psycopg.connect(uri, autocommit=False, application_name=application_name) as conn:
        with conn.transaction():
            yield conn


def apply_migrations(uri: str) -> list[str]:
    """Apply the migrations not yet applied, in order; returns their ids."""
    backend = get_backend(_yoyo_uri(uri))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]


def recreate(uri: str) -> None:
    """Roll every migration back and apply them again: an empty warehouse.
    Only for the scratch databases of the tests and benchmarks."""
    backend = get_backend(_yoyo_uri(uri))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(migrations))
    apply_migrations(uri)


def with_database(uri: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(uri)._replace(path=f"/{database}"))


def committed_offsets(uri: str, query_name: str) -> dict[tuple[str, int], int]:
    """The next offset the sink will read per (topic, partition), as its last committed batch left it."""
    with transaction(uri) as conn:
        rows = conn.execute(query("committed_offsets"), {"query_name": query_name}).fetchall()
    return {(topic, partition): next_offset for topic, partition, next_offset in rows}


def record_api_calls(uri: str, run: dict, calls: list[dict]) -> None:
    """Append one task try's requests to the API call log; `run` holds dag_id, run_id, try_number."""
    if not calls:
        return
    with transaction(uri) as conn, conn.cursor() as cursor:
        cursor.executemany(query("insert_api_call"), [{**run, **call} for call in calls])


def latest_bars(uri: str, per_symbol: int = 5) -> list[tuple]:
    with transaction(uri) as conn:
        return conn.execute(query("latest_bars"), {"per_symbol": per_symbol}).fetchall()


def _yoyo_uri(uri: str) -> str:
    """yoyo picks its driver from the scheme (psycopg 3, as everywhere else here), and keeps its
    bookkeeping tables in `public` rather than wherever the search path points."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", query="schema=public"))
