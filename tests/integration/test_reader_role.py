"""market_reader, Power BI's and the market page's login: it reads the reporting schema and
nothing else. Every refusal is tried for real, inside a read-write transaction, so it is the
grants that refuse it and not only the role's read-only default."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from market_pipeline import warehouse
from market_pipeline.in_airflow import connections
from tests.conftest import TEST_DATABASE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reader_uri(test_warehouse_uri: str) -> str:
    warehouse.recreate(test_warehouse_uri)
    return warehouse.with_database(connections.warehouse_uri("warehouse_reader"), TEST_DATABASE)


def reporting_relations(uri: str) -> list[str]:
    with psycopg.connect(uri) as conn:
        return [name for (name,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'reporting' AND c.relkind IN ('v', 'm', 'r') ORDER BY 1")]


def test_reader_selects_every_reporting_view_including_ones_added_later(reader_uri, test_warehouse_uri):
    with warehouse.transaction(test_warehouse_uri) as conn:  # as the owner, as a later migration would
        conn.execute("CREATE VIEW reporting.added_later AS SELECT 1 AS one")
    try:
        relations = reporting_relations(test_warehouse_uri)
        assert {"fact_bars", "daily_bars", "freshness", "added_later"} <= set(relations)
        with psycopg.connect(reader_uri) as conn:
            for name in relations:
                conn.execute(f"SELECT * FROM reporting.{name} LIMIT 1").fetchall()
    finally:
        with warehouse.transaction(test_warehouse_uri) as conn:
            conn.execute("DROP VIEW reporting.added_later")


REFUSED = {
    "read raw bars": "SELECT * FROM market.bars LIMIT 1",
    "read the API call log": "SELECT * FROM market.api_calls LIMIT 1",
    "insert through a view": "INSERT INTO reporting.quarantine (reason) VALUES ('x')",
    "update through a view": "UPDATE reporting.quarantine SET reason = 'x'",
    "delete through a view": "DELETE FROM reporting.quarantine",
    "truncate a view's table": "TRUNCATE market.bars",
    "refresh a materialized view": "REFRESH MATERIALIZED VIEW reporting.daily_bars",
    "create a table in reporting": "CREATE TABLE reporting.mine (x int)",
    "create a table in public": "CREATE TABLE public.mine (x int)",
    "create a temporary table": "CREATE TEMP TABLE mine (x int)",
    "create a schema": "CREATE SCHEMA mine",
    "drop a view": "DROP VIEW reporting.fact_bars",
    "grant itself more": "GRANT SELECT ON market.bars TO market_reader",
    "create a large object": "SELECT lo_from_bytea(0, 'x')",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_reader_is_refused(reader_uri, statement):
    with psycopg.connect(reader_uri, autocommit=True) as conn:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        with pytest.raises(errors.InsufficientPrivilege) as refused:
            conn.execute(statement)
    assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)


def test_reader_sessions_start_read_only_as_a_second_guard(reader_uri):
    with psycopg.connect(reader_uri) as conn, pytest.raises(errors.ReadOnlySqlTransaction):
        conn.execute("CREATE TEMP TABLE mine (x int)")


def test_reader_cannot_connect_to_the_airflow_metadata_database(reader_uri):
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(warehouse.with_database(reader_uri, "airflow")).close()
