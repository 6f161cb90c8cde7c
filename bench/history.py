"""The history section: what the warehouse costs against the bars it holds.

For each size (1M and 10M bars; 30M with `--large`) a scratch warehouse is filled with that many
synthetic 5-minute bars of 20 symbols, every extended-hours slot of the newest sessions up to
LAST_SESSION, with quarterly dividends and a split. The bulk path (`bench/sql/history_bars.sql`,
one INSERT ... SELECT per month, oldest month first) stands in for Kafka and Spark: it writes the
same rows in the same order a history backfill's batches would, and its trigger queues the days
as theirs does. Then `warehouse.rebuild_reporting` and a VACUUM ANALYZE (what autovacuum would
do after a load that size), and, on the warm warehouse:

- live: one new bar per symbol written by the sink (`ExactlyOnceSink`), then the refresh; and
  the refresh of a run that wrote nothing;
- month: a history month of one symbol, before everything loaded, then the refresh;
- upsert: 200,000 new bars in one batch, then 200,000 revisions of them (every row conflicts);
- page: the market page's queries over each range it offers, `daily_metrics` of one symbol over
  20 years, the demo's newest bars;
- size on disk per million bars, and the bar_time index as a BRIN (the schema's) against a btree.

The calendar starts in 2000 and the months prepended need a year before the load: 20 symbols
hold at most about 1.25M bars each from 2001, so a size past 25M spreads over more symbols.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa

from bench.measure import progress
from bench.scratch import scratch_database
from market_pipeline import warehouse
from market_pipeline.in_airflow import market_page
from market_pipeline.load.sink import ExactlyOnceSink
from market_pipeline.trading_calendar import EASTERN, HISTORY_START, session_bounds, trading_days

SIZES = (1_000_000, 10_000_000)
LARGE_SIZES = (*SIZES, 30_000_000)
SMOKE_SIZES = (20_000,)
SYMBOLS = 20
INTERVAL = "5min"
LAST_SESSION = date(2026, 11, 25)
# A year after the calendar starts: the history months the bench prepends go before the load.
FIRST_LOADABLE = HISTORY_START.replace(year=HISTORY_START.year + 1)
LIVE_RUNS, MONTH_RUNS, QUERY_RUNS = 5, 3, 7
UPSERT_BARS, SMOKE_UPSERT_BARS = 200_000, 2_000
FACTORS_TIMEOUT_SECONDS = 120
SQL = Path(__file__).resolve().parent / "sql"
SINK_QUERY = "bench_history"


def run(base_uri: str, run_id: str, sizes: tuple[int, ...], smoke: bool) -> dict:
    results = {}
    for bars in sizes:
        with scratch_database(base_uri, f"market_bench_{run_id}_history_{bars}") as uri:
            results[str(bars)] = measure(uri, bars, UPSERT_BARS if not smoke else SMOKE_UPSERT_BARS)
    return {"sizes": results}


def measure(uri: str, bars: int, upsert_bars: int) -> dict:
    loaded = load(uri, bars)
    out: dict = {"load": loaded}
    out["rebuild_seconds"] = timed(lambda: warehouse.rebuild_reporting(uri))
    out["vacuum_analyze_seconds"] = timed(lambda: _autocommit(uri, "VACUUM ANALYZE"))
    sink = ExactlyOnceSink(uri, SINK_QUERY)
    batch_ids = iter(range(1_000_000))
    symbols = loaded["symbol_names"]
    next_sessions = trading_days(LAST_SESSION + timedelta(days=1), LAST_SESSION + timedelta(days=300))

    live = []
    for run_number in range(LIVE_RUNS):
        start, _ = session_bounds(next_sessions[0], extended_hours=True)
        batch = bar_batch([(symbol, start + timedelta(minutes=5 * run_number)) for symbol in symbols])
        live.append(write_and_refresh(uri, sink, batch, next(batch_ids)))
    out["live"] = summary(live)
    # What every run with nothing new on Kafka pays: the backlog check refreshes (a dividend may
    # have gone ex since the last run).
    out["idle_refresh_median_seconds"] = statistics.median(
        timed(lambda: warehouse.refresh_reporting(uri)) for _ in range(LIVE_RUNS))

    month = []
    first_loaded = date.fromisoformat(loaded["first_session"])
    for run_number in range(MONTH_RUNS):
        end = first_loaded - timedelta(days=31 * run_number)
        sessions = trading_days(end - timedelta(days=30), end - timedelta(days=1))
        batch = bar_batch([(symbols[0], slot) for day in sessions for slot in _slots(day)])
        month.append(write_and_refresh(uri, sink, batch, next(batch_ids)) | {"bars": batch.num_rows})
    out["month"] = summary(month)

    later = [slot for day in next_sessions[1:] for slot in _slots(day)]
    per_symbol = math.ceil(upsert_bars / len(symbols))
    keys = [(symbol, slot) for symbol in symbols for slot in later[:per_symbol]][:upsert_bars]
    out["upsert_new"] = write_and_refresh(uri, sink, bar_batch(keys), next(batch_ids)) | {"bars": len(keys)}
    out["upsert_revised"] = write_and_refresh(uri, sink, bar_batch(keys, revision=1), next(batch_ids)) | {
        "bars": len(keys)}

    out["queries"] = page_queries(uri, symbols[0])
    out["size"] = sizes_on_disk(uri)
    loaded_sessions = trading_days(first_loaded, LAST_SESSION)
    out["bar_time_index"] = bar_time_index(uri, loaded_sessions[len(loaded_sessions) // 2])
    return out


def load(uri: str, bars: int) -> dict:
    """`bars` bars by the bulk path: the newest sessions up to LAST_SESSION, a month at a time."""
    with psycopg.connect(uri) as conn:
        sessions = conn.execute(
            "SELECT session_date, extract(epoch FROM extended_close - extended_open)::int / 300"
            " FROM market.trading_sessions WHERE session_date BETWEEN %s AND %s ORDER BY session_date DESC",
            (FIRST_LOADABLE, LAST_SESSION)).fetchall()
    available = sum(slots for _, slots in sessions)
    symbols = max(SYMBOLS, math.ceil(bars / available))
    wanted, first_session = math.ceil(bars / symbols), sessions[-1][0]
    for day, slots in sessions:
        wanted -= slots
        if wanted <= 0:
            first_session = day
            break
    months = []
    month = first_session.replace(day=1)
    while month <= LAST_SESSION:
        following = (month + timedelta(days=32)).replace(day=1)
        months.append((max(month, first_session), min(following, LAST_SESSION + timedelta(days=1))))
        month = following
    started = time.perf_counter()
    with psycopg.connect(uri) as conn:
        for actions in ("history_dividends.sql", "history_splits.sql"):
            conn.execute((SQL / actions).read_text(),
                         {"symbols": symbols, "first_day": first_session, "last_day": LAST_SESSION})
        conn.commit()
        statement = (SQL / "history_bars.sql").read_text()
        for first_day, end_day in progress(months, desc=f"load {bars:,}", unit="month"):
            conn.execute(statement, {"symbols": symbols, "first_day": first_day, "end_day": end_day})
            conn.commit()
        [(count,)] = conn.execute("SELECT count(*) FROM market.bars").fetchall()
    seconds = time.perf_counter() - started
    return {"bars": count, "symbols": symbols, "symbol_names": [f"H{n:02d}" for n in range(1, symbols + 1)],
            "first_session": first_session.isoformat(), "last_session": LAST_SESSION.isoformat(),
            "months": len(months), "seconds": round(seconds, 3), "bars_per_second": round(count / seconds)}


def _slots(day: date) -> list[datetime]:
    start, end = session_bounds(day, extended_hours=True)
    return [start + timedelta(minutes=5 * n) for n in range(int((end - start) / timedelta(minutes=5)))]


def bar_batch(keys: list[tuple[str, datetime]], revision: int = 0) -> pa.Table:
    """The Spark job's output columns for bars at `keys`, as the sink receives them; a higher
    `revision` is a later fetch of the same bars."""
    count = len(keys)
    price = pa.decimal128(18, 6)
    fetched_at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=revision)
    closes = [Decimal(100 + revision + n % 7) for n in range(count)]
    return pa.table({
        "symbol": [symbol for symbol, _ in keys],
        "interval": [INTERVAL] * count,
        "bar_time": pa.array([slot.astimezone(UTC) for _, slot in keys], pa.timestamp("us", "UTC")),
        "open": pa.array(closes, price),
        "high": pa.array([close + 1 for close in closes], price),
        "low": pa.array([close - 1 for close in closes], price),
        "close": pa.array(closes, price),
        "volume": pa.array([1000 + n for n in range(count)], pa.int64()),
        "fetched_at": pa.array([fetched_at] * count, pa.timestamp("us", "UTC")),
        "source_topic": [f"bench.history.{revision}"] * count,
        "source_partition": pa.array([0] * count, pa.int32()),
        "source_offset": pa.array(range(count), pa.int64()),
        "message_key": [symbol for symbol, _ in keys],
        "raw_value": pa.array([None] * count, pa.string()),
        "reason": pa.array([None] * count, pa.string()),
    })


def write_and_refresh(uri: str, sink: ExactlyOnceSink, batch: pa.Table, batch_id: int) -> dict:
    """One drain's batch through the sink's transaction, then the reporting refresh the drain runs
    after it."""
    return {"write_seconds": timed(lambda: sink.write(batch, batch_id)),
            "refresh_seconds": timed(lambda: warehouse.refresh_reporting(uri))}


def page_queries(uri: str, symbol: str) -> dict:
    """Median and slowest of QUERY_RUNS runs of each query the market page and the demo make, over
    the ranges the page offers (intraday up to 9 days, daily candles beyond)."""
    [(last_bar,)] = _fetch(uri, "SELECT max(bar_time) FROM market.bars WHERE symbol = %s AND interval = %s",
                           (symbol, INTERVAL))
    end = last_bar.astimezone(EASTERN).date()

    def chart(days: int) -> Callable[[], list]:  # the page's own path: intraday below 10 days, daily beyond
        return lambda: market_page.price_rows(uri, market_page.ChartRange(symbol, end - timedelta(days=days), end))

    cases: dict[str, Callable[[], list]] = {
        "reporting_symbols": lambda: warehouse.read(uri, "reporting_symbols"),
        "reporting_freshness": lambda: warehouse.read(uri, "reporting_freshness"),
        "reporting_prices_1_day": chart(1),
        "reporting_prices_5_days": chart(5),
        "reporting_prices_9_days": chart(9),
        "reporting_daily_prices_1_month": chart(31),
        "reporting_daily_prices_1_year": chart(366),
        "reporting_daily_prices_20_years": chart(7305),
        "daily_metrics_20_years": lambda: _fetch(
            uri, "SELECT * FROM reporting.daily_metrics WHERE symbol = %s AND interval = %s"
                 " AND session_date >= %s ORDER BY session_date", (symbol, INTERVAL, end - timedelta(days=7305))),
        "latest_bars": lambda: warehouse.latest_bars(uri),
    }
    out = {}
    for name, query in cases.items():
        rows = len(query())  # warms the cache: the page's readers hit a warm server
        runs = [timed(query) for _ in range(QUERY_RUNS)]
        out[name] = {"rows": rows, "median_ms": round(statistics.median(runs) * 1000, 2),
                     "max_ms": round(max(runs) * 1000, 2)}
    return out


def sizes_on_disk(uri: str) -> dict:
    [(bars,)] = _fetch(uri, "SELECT count(*) FROM market.bars")
    relations = dict(_fetch(uri, """
        SELECT c.relname, pg_relation_size(c.oid) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('market', 'reporting') AND c.relkind IN ('r', 'i', 'm')"""))
    [(database,)] = _fetch(uri, "SELECT pg_database_size(current_database())")
    bars_total = relations["bars"] + relations["bars_pkey"] + relations["bars_bar_time_brin"]
    reporting = sum(size for name, size in relations.items()
                    if name.split("_pkey")[0] in ("bar_metrics", "daily_bars", "daily_metrics", "adjustment_factors"))
    mb = 1_000_000

    def per_million(size: int) -> float:
        return round(size / mb / (bars / 1_000_000), 1)

    return {"bars": bars, "database_mb": round(database / mb), "bars_heap_mb": round(relations["bars"] / mb),
            "bars_pkey_mb": round(relations["bars_pkey"] / mb),
            "bars_bar_time_brin_mb": round(relations["bars_bar_time_brin"] / mb, 3),
            "reporting_mb": round(reporting / mb),
            "database_mb_per_million_bars": per_million(database), "bars_mb_per_million_bars": per_million(bars_total),
            "reporting_mb_per_million_bars": per_million(reporting)}


def bar_time_index(uri: str, day: date) -> dict:
    """The schema's BRIN on bar_time (migration 0007) against the btree it replaced: their sizes,
    their question (every symbol's bars of one session), and the refresh of adjustment_factors,
    whose per-symbol "close before the ex-date" lookups a btree on bar_time leads astray. Each
    is timed with the other index dropped inside a transaction that rolls back."""
    start, end = session_bounds(day, extended_hours=True)
    question = "SELECT count(*), sum(volume) FROM market.bars WHERE bar_time >= %s AND bar_time < %s"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE INDEX bars_bar_time_btree ON market.bars (bar_time)")
        sizes = dict(conn.execute("SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN"
                                  " ('bars_bar_time_btree', 'bars_bar_time_brin')").fetchall())
        out = {}
        for kind, kept, dropped in (("brin", "bars_bar_time_brin", "bars_bar_time_btree"),
                                    ("btree", "bars_bar_time_btree", "bars_bar_time_brin")):
            with conn.transaction(force_rollback=True):
                conn.execute(f"DROP INDEX market.{dropped}")
                conn.execute(question, (start, end))  # warm
                runs = [timed(lambda: conn.execute(question, (start, end)).fetchall()) for _ in range(QUERY_RUNS)]
                conn.execute(f"SET LOCAL statement_timeout = '{FACTORS_TIMEOUT_SECONDS}s'")
                try:
                    factors = timed(lambda: conn.execute("REFRESH MATERIALIZED VIEW reporting.adjustment_factors"))
                except psycopg.errors.QueryCanceled:
                    factors = None  # longer than the timeout: reported as such
            out[kind] = {"size_mb": round(sizes[kept] / 1_000_000, 3),
                         "median_ms": round(statistics.median(runs) * 1000, 2),
                         "adjustment_factors_refresh_seconds": factors, "timeout_seconds": FACTORS_TIMEOUT_SECONDS}
        conn.execute("DROP INDEX market.bars_bar_time_btree")
    return out


def summary(runs: list[dict]) -> dict:
    keys = [key for key in runs[0] if key.endswith("_seconds")]
    return {"runs": runs, **{f"{key.removesuffix('_seconds')}_median_seconds":
                             round(statistics.median(run[key] for run in runs), 4) for key in keys}}


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return round(time.perf_counter() - started, 4)


def _fetch(uri: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(statement, params).fetchall()


def _autocommit(uri: str, statement: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(statement)
