"""Reading the warehouse as the tests and drills count it: rows, bars, the drain's batches, and
where its sink stands."""

from __future__ import annotations

import psycopg


def fetch_all(uri: str, sql: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(sql, params or {}).fetchall()


def bars_snapshot(uri: str) -> list[tuple]:
    return fetch_all(uri, "SELECT symbol, interval, bar_time, open, high, low, close, volume, fetched_at "
                          "FROM market.bars ORDER BY symbol, interval, bar_time")


def batches(uri: str, query_name: str) -> list[tuple]:
    return fetch_all(uri, "SELECT batch_id, offset_ranges, messages FROM market.ingest_batches "
                          "WHERE query_name = %(q)s ORDER BY batch_id", {"q": query_name})


def sink_transaction_open(uri: str, query_name: str) -> bool:
    """Whether the drain's sink (application_name = its query name) is inside a transaction."""
    return fetch_all(uri, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(q)s "
                          "AND xact_start IS NOT NULL", {"q": query_name})[0][0] > 0


def sink_waiting_on_a_lock(uri: str, query_name: str) -> bool:
    """Whether the drain's sink is inside a transaction and waiting for a lock another holds."""
    return fetch_all(uri, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(q)s "
                          "AND xact_start IS NOT NULL AND wait_event_type = 'Lock'", {"q": query_name})[0][0] > 0
