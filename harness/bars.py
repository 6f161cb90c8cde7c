"""Test bars and messages, and producing them to a topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from market_pipeline import kafka_io
from market_pipeline.bars import Bar

BASE_TIME = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
FETCHED_AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def make_bar(symbol: str, minute: int, close: str = "101.00", fetched_at: datetime = FETCHED_AT) -> Bar:
    close_value = Decimal(close)
    return Bar(
        symbol=symbol, interval="5min", bar_time=BASE_TIME + timedelta(minutes=minute),
        open=Decimal("100.00"), high=max(Decimal("102.00"), close_value), low=min(Decimal("99.00"), close_value),
        close=close_value, volume=1000 + minute, fetched_at=fetched_at,
    )


def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = kafka_io.make_producer({"bootstrap.servers": bootstrap})
    kafka_io.produce_all(producer, [kafka_io.Message(topic, key, value) for key, value in values])


def produce_bars(bootstrap: str, topic: str, bars: list[Bar]) -> None:
    produce(bootstrap, topic, [(bar.symbol.encode(), bar.to_message()) for bar in bars])


def raw(value: dict | str) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value)).encode()
