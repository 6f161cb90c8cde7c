"""The one module that talks to the Postgres warehouse.

Called by the DAG (migrations, backlog check), the Spark sink and the command
line.  SQL lives in `include/sql/`: migrations are applied by yoyo (recorded in
its `_yoyo_migration` table, safe to re-run), named queries are read from
`include/sql/queries/<name>.sql` and always take bound parameters.

Loads are idempotent: bars are upserted on (symbol, interval, bar_time), and
every Spark micro-batch records its batch id in the same transaction
(`market_pipeline.load.sink`), so a replay changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.rows
from yoyo import get_backend, read_migrations

from market_pipeline import trading_calendar
from market_pipeline.settings import MIGRATIONS_DIR, QUERIES_DIR


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
    """Apply the migrations not yet applied, in order, then bring the trading calendar up to
    date and the reporting layer level with the bars (a migration may queue a rebuild); returns
    the ids of the migrations applied."""
    backend = get_backend(_yoyo_uri(uri))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    sync_trading_sessions(uri)
    refresh_reporting(uri)
    return [migration.id for migration in pending]


def sync_trading_sessions(uri: str) -> int:
    """Replace `market.trading_sessions` with every NYSE session the calendar library knows (2000
    to a year ahead), unless the table already holds them; returns the rows written."""
    nyse = trading_calendar.nyse()
    days = trading_calendar.trading_days(nyse.first_session.date(), nyse.last_session.date())
    with transaction(uri) as conn:
        if conn.execute(query("trading_sessions_span")).fetchone() == (len(days), days[-1]):
            return 0
        conn.execute(query("clear_trading_sessions"))
        with conn.cursor().copy(query("copy_trading_sessions")) as copy:
            for day in days:
                copy.write_row(_session_row(day))
    return len(days)


def _session_row(day) -> tuple:
    regular_open, regular_close = trading_calendar.session_bounds(day, extended_hours=False)
    extended_open, extended_close = trading_calendar.session_bounds(day, extended_hours=True)
    return (day, regular_open, regular_close, extended_open, extended_close,
            trading_calendar.publication_time(day), regular_close.time() < trading_calendar.REGULAR_CLOSE)


def refresh_reporting(uri: str) -> None:
    """Bring the reporting tables level with `market.bars`: recompute what the bars written since
    the last refresh can change (`refresh_reporting.sql` says what), in one transaction that
    readers never see half done. Cheap when nothing was written."""
    with transaction(uri, application_name="refresh_reporting") as conn:
        conn.execute(query("refresh_reporting"))


def rebuild_reporting(uri: str) -> None:
    """Recompute the reporting tables from every bar, for a repair: the same computation as the
    incremental refresh, over each symbol's whole history."""
    with transaction(uri, application_name="rebuild_reporting") as conn:
        conn.execute(query("queue_whole_history"))
        conn.execute(query("refresh_reporting"))


def record_fetch_state(uri: str, rows: list[dict]) -> None:
    """Replace the watchlist's fetch state (one row per symbol) with a run's."""
    with transaction(uri) as conn, conn.cursor() as cursor:
        cursor.execute(query("clear_fetch_state"))
        cursor.executemany(query("insert_fetch_state"), rows)


def record_topic_lag(uri: str, rows: list[dict]) -> None:
    """Keep what the backlog check saw, per drain query and partition."""
    with transaction(uri) as conn, conn.cursor() as cursor:
        cursor.executemany(query("upsert_topic_lag"), rows)


def newest_bars(uri: str, symbols: list[str], interval: str) -> dict:
    """{symbol: start of its newest bar, or None}."""
    with transaction(uri) as conn:
        return dict(conn.execute(query("newest_bars"), {"symbols": symbols, "interval": interval}).fetchall())


def record_freshness(uri: str, rows: list[dict]) -> None:
    """Keep the watchdog's verdicts, one row per symbol."""
    with transaction(uri) as conn, conn.cursor() as cursor:
        cursor.executemany(query("upsert_freshness_check"), rows)


def read(uri: str, name: str, params: dict | None = None) -> list[dict]:
    """The rows of a named query, as dicts: the reporting layer's readers."""
    with psycopg.connect(uri, row_factory=psycopg.rows.dict_row, application_name="market_reader") as conn:
        return conn.execute(query(name), params or {}).fetchall()


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


def replace_corporate_actions(uri: str, symbol: str, splits: list, dividends: list, fetched_at) -> bool:
    """Make the symbol's stored splits and dividends what the API lists now (a revised or withdrawn
    action replaces the older one), in one transaction; True when that changed anything."""
    split_rows = [(split.effective_date, split.split_factor) for split in splits]
    dividend_rows = [(d.ex_dividend_date, d.amount, d.declaration_date, d.record_date, d.payment_date)
                     for d in dividends]
    with transaction(uri) as conn, conn.cursor() as cursor:
        key = {"symbol": symbol}
        if (cursor.execute(query("stored_splits"), key).fetchall() == split_rows
                and cursor.execute(query("stored_dividends"), key).fetchall() == dividend_rows):
            return False
        cursor.execute(query("clear_splits"), key)
        cursor.execute(query("clear_dividends"), key)
        cursor.executemany(query("insert_split"), [
            {**key, "effective_date": day, "split_factor": factor, "fetched_at": fetched_at}
            for day, factor in split_rows])
        cursor.executemany(query("insert_dividend"), [
            {**key, "ex_dividend_date": ex, "amount": amount, "declaration_date": declared, "record_date": record,
             "payment_date": paid, "fetched_at": fetched_at}
            for ex, amount, declared, record, paid in dividend_rows])
    return True


def unexplained_price_jumps(uri: str, interval: str, since: date, at_most: Decimal) -> dict[str, date]:
    """Each symbol's latest session since `since` whose traded regular open stepped from the
    previous session's regular close (`reporting.daily_bars`, refreshed by every drain) to at most
    `at_most` times it (or at least its inverse) with no split stored that day."""
    rows = read(uri, "unexplained_price_jumps", {"interval": interval, "since": since, "at_most": at_most})
    return {row["symbol"]: row["session_date"] for row in rows}


def latest_bars(uri: str, per_symbol: int = 5) -> list[tuple]:
    with transaction(uri) as conn:
        return conn.execute(query("latest_bars"), {"per_symbol": per_symbol}).fetchall()


def _yoyo_uri(uri: str) -> str:
    """yoyo picks its driver from the scheme (psycopg 3, as everywhere else here), and keeps its
    bookkeeping tables in `public` rather than wherever the search path points."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", query="schema=public"))
