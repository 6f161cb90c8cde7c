"""Producing to and consuming from the real Kafka broker."""

import pytest
from confluent_kafka import Consumer, KafkaException

from harness.bars import make_bar, produce_bars
from market_pipeline import kafka_io

pytestmark = pytest.mark.integration


def test_should_deliver_bars_in_order_per_symbol(kafka_bootstrap, topics):
    bars = [make_bar(symbol, minute) for minute in range(0, 50, 5) for symbol in ("MSFT", "TSLA")]
    produce_bars(kafka_bootstrap, topics["bars"], bars)

    assert sum(kafka_io.end_offsets({"bootstrap.servers": kafka_bootstrap}, [topics["bars"]]).values()) == 20
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": topics["bars"],
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topics["bars"]])
    received = []
    try:
        while len(received) < len(bars):
            message = consumer.poll(10)
            assert message is not None, f"only {len(received)} of {len(bars)} messages arrived"
            assert message.error() is None
            received.append((message.key().decode(), message.value()))
    finally:
        consumer.close()
    for symbol in ("MSFT", "TSLA"):
        assert [value for key, value in received if key == symbol] == [
            bar.to_message() for bar in bars if bar.symbol == symbol
        ]


def test_should_refuse_to_report_offsets_of_a_missing_topic(kafka_bootstrap):
    with pytest.raises(KafkaException, match="does not exist"):
        kafka_io.end_offsets({"bootstrap.servers": kafka_bootstrap}, ["no.such.topic.here"])


def test_should_fail_loudly_when_the_broker_is_unreachable():
    producer = kafka_io.make_producer({"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 2000})
    with pytest.raises(kafka_io.DeliveryFailed):
        kafka_io.produce_all(producer, [kafka_io.Message("any", b"k", b"v")])
