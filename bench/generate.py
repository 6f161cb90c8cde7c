"""Deterministic bars in the project's message format, and the manifest every path is checked against.

`generate(count)` builds `count` Kafka messages (key = symbol, value = the bars
topic's JSON, `market_pipeline.bars.Bar.to_message`) for 20 symbols of
consecutive 5-minute bars, about 2% of them revisions: the same
(symbol, interval, bar_time) sent again later in the stream with a later
`fetched_at` and another close and volume. Same seed, same bytes.

The JSON is built by `message()`, a format string, because validating a
million `Bar` models takes longer than everything else here;
`tests/integration/test_bench_smoke.py` proves its bytes equal `Bar.to_message()`.

The manifest holds what the warehouse must contain once every message is
loaded (the latest fetch of each bar wins): the count of distinct bars, the
sum of their volumes and of their closes. Every path of the benchmark is
checked against it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import NamedTuple

SEED = 20261124
SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "WMT",
           "XOM", "UNH", "JNJ", "PG", "MA", "HD", "CVX", "KO", "PEP", "BAC")
INTERVAL = "5min"
REVISION_SHARE = 0.02
FIRST_BAR = datetime(2020, 1, 2, 14, 30, tzinfo=UTC)
BAR_STEP = timedelta(minutes=5)
FETCH_DELAY = timedelta(minutes=15)  # an original's fetched_at after its bar_time
REVISION_DELAY = timedelta(seconds=90)  # a revision's fetched_at after the original's
MAX_REVISION_LAG = 5_000  # a revision follows its original within this many messages
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the bars topic's UTC timestamps


class GeneratedBar(NamedTuple):
    """One message's bar, prices in cents (a tuple: a million of them are built)."""

    symbol: str
    bar_time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    fetched_at: datetime


@dataclass(frozen=True)
class Manifest:
    """What the warehouse holds once every message is loaded, and how the messages were made."""

    seed: int
    messages: int
    revisions: int
    symbols: int
    final_rows: int
    sum_volume: int
    sum_close: str  # a Decimal, as text: exact

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generated:
    messages: list[tuple[bytes, bytes]]  # (key, value), in produce order
    final: list[GeneratedBar]  # the latest version of every bar
    manifest: Manifest


def price(cents: int) -> str:
    """Cents as the API writes a price; `str(Decimal(price(c)))` is the same text."""
    return f"{cents // 100}.{cents % 100:02d}"


@cache
def _stamp(moment: datetime) -> str:
    """A timestamp as the bars topic writes it; every symbol shares each bar's time."""
    return moment.strftime(TIMESTAMP_FORMAT)


def message(bar: GeneratedBar) -> bytes:
    """`Bar(...).to_message()` of this bar, without building the model."""
    return (
        f'{{"symbol":"{bar.symbol}","interval":"{INTERVAL}","bar_time":"{_stamp(bar.bar_time)}",'
        f'"open":"{price(bar.open)}","high":"{price(bar.high)}","low":"{price(bar.low)}",'
        f'"close":"{price(bar.close)}","volume":{bar.volume},"fetched_at":"{_stamp(bar.fetched_at)}"}}'
    ).encode()


def _originals(count: int, rng: random.Random) -> Iterator[GeneratedBar]:
    closes = {symbol: 10_000 + 500 * index for index, symbol in enumerate(SYMBOLS)}
    for index in range(count):
        symbol = SYMBOLS[index % len(SYMBOLS)]
        bar_time = FIRST_BAR + BAR_STEP * (index // len(SYMBOLS))
        open_ = closes[symbol]
        close = max(1_000, open_ + rng.randint(-40, 40))
        closes[symbol] = close
        yield GeneratedBar(symbol, bar_time, open_, max(open_, close) + rng.randint(0, 25),
                           min(open_, close) - rng.randint(0, 25), close, rng.randint(100, 100_000),
                           bar_time + FETCH_DELAY)


def _revision(bar: GeneratedBar, rng: random.Random) -> GeneratedBar:
    close = bar.close + rng.choice((-1, 1)) * rng.randint(1, 30)
    return GeneratedBar(bar.symbol, bar.bar_time, bar.open, max(bar.high, close), min(bar.low, close), close,
                        bar.volume + rng.randint(1, 1_000), bar.fetched_at + REVISION_DELAY)


def generate(count: int, seed: int = SEED, progress=None) -> Generated:
    """`count` messages, about 2% of them revisions; `progress` (a tqdm bar) advances once per message."""
    rng = random.Random(seed)
    revisions = round(count * REVISION_SHARE)
    originals = list(_originals(count - revisions, rng))
    revised = sorted(rng.sample(range(len(originals)), revisions))
    final = list(originals)
    # (position in the stream, tie-break, bar): a revision lands after its original.
    stream: list[tuple[float, GeneratedBar]] = [(float(index), bar) for index, bar in enumerate(originals)]
    for index in revised:
        revision = _revision(originals[index], rng)
        final[index] = revision
        stream.append((index + rng.randint(1, MAX_REVISION_LAG) + 0.5, revision))
    stream.sort(key=lambda item: item[0])
    messages = []
    for _, bar in stream:
        messages.append((bar.symbol.encode(), message(bar)))
        if progress is not None:
            progress.update()
    manifest = Manifest(
        seed=seed, messages=count, revisions=revisions, symbols=len(SYMBOLS), final_rows=len(final),
        sum_volume=sum(bar.volume for bar in final),
        sum_close=str(sum(Decimal(bar.close) for bar in final) / 100),
    )
    return Generated(messages, final, manifest)


def final_rows_csv(final: list[GeneratedBar], source_topic: str) -> str:
    """The final rows as CSV for COPY into market.bars (the columns of `FINAL_ROW_COLUMNS`);
    the source offset is the row's index, not a Kafka offset."""
    return "".join(
        f"{bar.symbol},{INTERVAL},{_stamp(bar.bar_time)},{price(bar.open)},{price(bar.high)},"
        f"{price(bar.low)},{price(bar.close)},{bar.volume},{_stamp(bar.fetched_at)},"
        f"{source_topic},0,{index}\n"
        for index, bar in enumerate(final)
    )


FINAL_ROW_COLUMNS = ("symbol", "interval", "bar_time", "open", "high", "low", "close", "volume", "fetched_at",
                     "source_topic", "source_partition", "source_offset")
