"""What the drills count: the bars the simulator served, the messages on a topic, the warehouse's
rows and batches; and the comparisons every drill prints as expected and found."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from drills.report import Report
from harness.warehouse import bars_snapshot, batches
from market_pipeline import kafka_io, warehouse
from market_pipeline.simulator import AlphaVantageSimulator

API_TIMESTAMP = "%Y-%m-%d %H:%M:%S"

BarKey = tuple[str, str, datetime]  # symbol, interval, bar_time (UTC)


class ServedBars:
    """Every bar the simulator answered with, read from the replies themselves (not through the
    pipeline's own parsing): {(symbol, interval, bar_time): (open, high, low, close, volume)}."""

    def __init__(self, simulator: AlphaVantageSimulator) -> None:
        self.bars: dict[BarKey, tuple] = {}
        answer = simulator.answer

        def recording_answer(params: dict[str, str]) -> tuple[str, str]:
            content_type, body = answer(params)
            if content_type == "application/json":
                self._add(json.loads(body))
            return content_type, body

        simulator.answer = recording_answer  # the server calls the instance's answer per request

    def _add(self, reply: dict) -> None:
        meta = reply.get("Meta Data")
        if meta is None:
            return
        symbol, interval, zone = meta["2. Symbol"], meta["4. Interval"], ZoneInfo(meta["6. Time Zone"])
        for stamp, row in reply[f"Time Series ({interval})"].items():
            bar_time = datetime.strptime(stamp, API_TIMESTAMP).replace(tzinfo=zone).astimezone(UTC)
            self.bars[(symbol, interval, bar_time)] = (
                Decimal(row["1. open"]), Decimal(row["2. high"]), Decimal(row["3. low"]), Decimal(row["4. close"]),
                int(row["5. volume"]))

    def per_symbol(self) -> dict[str, int]:
        return dict(sorted(Counter(symbol for symbol, _, _ in self.bars).items()))


def check_topic_holds_each_bar_once(report: Report, served: ServedBars, messages: list[tuple[bytes, bytes]]) -> None:
    """Count the bars topic's messages per key and per bar against what the simulator served."""
    per_bar: Counter[tuple[str, datetime]] = Counter()
    per_key: Counter[str] = Counter()
    for key, value in messages:
        bar = json.loads(value)
        per_key[key.decode()] += 1
        per_bar[(bar["symbol"], datetime.fromisoformat(bar["bar_time"]))] += 1
    expected = {(symbol, bar_time) for symbol, _, bar_time in served.bars}
    report.check("messages on the bars topic", len(served.bars), len(messages))
    report.check("messages per key (symbol)", served.per_symbol(), dict(sorted(per_key.items())))
    report.check("bars on the topic more than once", 0, sum(1 for count in per_bar.values() if count > 1))
    report.check("served bars missing from the topic", 0, len(expected - per_bar.keys()))
    report.check("bars on the topic never served", 0, len(per_bar.keys() - expected))


def check_warehouse_holds_served_bars(report: Report, uri: str, served: ServedBars) -> None:
    """market.bars against the served bars, row by row (prices compared as numbers)."""
    table = {(symbol, interval, bar_time): (open_, high, low, close, volume)
             for symbol, interval, bar_time, open_, high, low, close, volume, _ in bars_snapshot(uri)}
    report.check("rows in market.bars", len(served.bars), len(table))
    report.check("served bars missing from market.bars", 0, len(served.bars.keys() - table.keys()))
    report.check("rows in market.bars never served", 0, len(table.keys() - served.bars.keys()))
    report.check("rows whose values differ from the served bar", 0,
                 sum(1 for key, values in table.items() if key in served.bars and values != served.bars[key]))


def check_each_message_committed_once(report: Report, bootstrap: str, topics: Iterable[str], uri: str,
                                      query_name: str) -> None:
    """Every message Kafka holds was committed by exactly one batch, and the drain's offsets are at
    Kafka's end offsets."""
    ends = kafka_io.end_offsets({"bootstrap.servers": bootstrap}, list(topics))
    committed = warehouse.committed_offsets(uri, query_name)
    report.check("messages over market.ingest_batches (= messages in Kafka)", sum(ends.values()),
                 sum(messages for _, _, messages in batches(uri, query_name)))
    report.check("partitions whose committed offset is not Kafka's end offset", 0,
                 sum(1 for key, end in ends.items() if committed.get(key, 0) != end))
