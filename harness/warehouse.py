"""Reading the warehouse as the tests count it: rows, bars, the drain's batches."""

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
