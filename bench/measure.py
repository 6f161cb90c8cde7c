"""What every throughput path is measured and checked with: the table against the manifest, the
batches the path committed (`market.ingest_batches`), and a progress bar fed from them.

Steady state, the same definition for the drain and the baseline: both record
each batch in `market.ingest_batches` in the batch's own transaction, and its
`committed_at` (`now()`) is the time that transaction began. From the first
batch's transaction to the last one's, batches 1 .. n-1 were written and
batches 2 .. n read and parsed: steady state is the messages of batches
1 .. n-1 over that span. Start-up (process, JVM, session, the first read) and
the last batch's write and teardown are left out; they are reported apart as
`startup_seconds` (launch to the first batch's transaction) and
`last_batch_and_exit_seconds`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

import psycopg
from tqdm import tqdm

from bench.generate import Manifest

PROGRESS_EVERY_SECONDS = 0.5
# Where stderr is a log (CI), a bar line every 15 s instead of every refresh.
LOG_REFRESH_SECONDS = 15.0


def progress(iterable=None, **kwargs) -> tqdm:
    """The benchmark's progress bars: gone when done, sparse in a log."""
    return tqdm(iterable, leave=False, mininterval=0.1 if sys.stderr.isatty() else LOG_REFRESH_SECONDS, **kwargs)


class InexactTable(Exception):
    """A path left the warehouse different from the manifest: its figures mean nothing."""


def check_exact(uri: str, manifest: Manifest, path: str) -> dict:
    """The table against the manifest: count, sum(volume), sum(close); raises when any differs."""
    with psycopg.connect(uri) as conn:
        rows, volume, close = conn.execute("SELECT count(*), sum(volume), sum(close) FROM market.bars").fetchone()
        [(quarantined,)] = conn.execute("SELECT count(*) FROM market.quarantine").fetchall()
    found = {"final_rows": rows, "sum_volume": int(volume or 0), "sum_close": str(close or 0),
             "quarantined": quarantined}
    expected = {"final_rows": manifest.final_rows, "sum_volume": manifest.sum_volume,
                "sum_close": manifest.sum_close, "quarantined": 0}
    exact = (rows == manifest.final_rows and found["sum_volume"] == manifest.sum_volume
             and Decimal(found["sum_close"]) == Decimal(manifest.sum_close) and quarantined == 0)
    if not exact:
        raise InexactTable(f"{path}: market.bars holds {found}, the manifest says {expected}")
    return {"exact": True, **found}


def batches(uri: str, query_name: str) -> list[tuple[int, int, datetime]]:
    """(batch_id, messages, committed_at) of the query's batches."""
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT batch_id, messages, committed_at FROM market.ingest_batches "
                            "WHERE query_name = %s ORDER BY batch_id", (query_name,)).fetchall()


def batch_figures(uri: str, query_name: str, launched: datetime, exited: datetime) -> dict:
    """Steady state and its edges (module docstring) of a path that ran from `launched` to `exited`."""
    rows = batches(uri, query_name)
    figures: dict = {"batches": [{"batch_id": batch_id, "messages": messages, "committed_at": at.isoformat()}
                                 for batch_id, messages, at in rows]}
    if not rows:
        return {**figures, "steady_state_rows_per_second": None, "startup_seconds": None,
                "last_batch_and_exit_seconds": None}
    first, last = rows[0][2], rows[-1][2]
    span = (last - first).total_seconds()
    written = sum(messages for _, messages, _ in rows[:-1])
    return {
        **figures,
        "steady_state_rows_per_second": round(written / span) if len(rows) > 1 and span > 0 else None,
        "steady_state_seconds": round(span, 3),
        "startup_seconds": round((first - launched).total_seconds(), 3),
        "last_batch_and_exit_seconds": round((exited - last).total_seconds(), 3),
    }


@contextmanager
def committed_progress(uri: str, query_name: str, total: int, description: str) -> Iterator[None]:
    """A progress bar of the messages the query has committed, polled while the block runs."""
    stop = threading.Event()

    def poll() -> None:
        with progress(total=total, desc=description, unit="msg", unit_scale=True) as bar, \
                psycopg.connect(uri, autocommit=True) as conn:
            while not stop.wait(PROGRESS_EVERY_SECONDS):
                [(done,)] = conn.execute("SELECT coalesce(sum(messages), 0) FROM market.ingest_batches "
                                         "WHERE query_name = %s", (query_name,)).fetchall()
                if done > bar.n:
                    bar.update(done - bar.n)

    poller = threading.Thread(target=poll, name="progress", daemon=True)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()
