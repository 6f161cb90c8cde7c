"""Kafka access: topic creation, producing with delivery checks, end offsets.

Called by the fetch task (produce), the backlog check (end offsets), `bin/stack
start` (topics) and the tests.  Producing follows confluent-kafka's own example:
a delivery callback, `poll(0)` while producing, `flush()` at the end, and any
failed delivery raises so a lost message can never end a task green.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC

# Keyed by symbol: each symbol's bars stay in order on one partition.
TOPIC_PARTITIONS = {BARS_TOPIC: 3, DEAD_LETTER_TOPIC: 1}
FLUSH_TIMEOUT_SECONDS = 30.0

# Idempotent producer: a retried send cannot duplicate or reorder a message.
PRODUCER_DEFAULTS = {"enable.idempotence": True, "acks": "all", "linger.ms": 20, "compression.type": "lz4"}


class DeliveryFailed(Exception):
    """At least one message was not acknowledged by the broker."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def ensure_topics(bootstrap_servers: str, partitions: dict[str, int] = TOPIC_PARTITIONS) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    existing = admin.list_topics(timeout=15).topics
    wanted = [
        NewTopic(topic, num_partitions=count, replication_factor=1)
        for topic, count in partitions.items()
        if topic not in existing
    ]
    if not wanted:
        return
    for future in admin.create_topics(wanted).values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise


def delete_topics(bootstrap_servers: str, topics: Iterable[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})  # held until the futures are done
    for future in admin.delete_topics(list(topics)).values():
        future.result(timeout=30)


def make_producer(config: dict[str, str]) -> Producer:
    return Producer({**PRODUCER_DEFAULTS, **config})


def produce_all(producer: Producer, messages: Iterable[Message]) -> int:
    """Send every message and wait for the broker's acknowledgements; returns how many were sent."""
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            errors.append(f"{msg.topic()}: {err}")

    sent = 0
    for message in messages:
        while True:
            try:
                producer.produce(message.topic, key=message.key, value=message.value, on_delivery=on_delivery)
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry this message.
                producer.poll(1.0)
        producer.poll(0)
        sent += 1
    remaining = producer.flush(FLUSH_TIMEOUT_SECONDS)
    if remaining:
        errors.append(f"{remaining} message(s) still unacknowledged after {FLUSH_TIMEOUT_SECONDS} s")
    if errors:
        raise DeliveryFailed(f"{len(errors)} delivery failure(s), first: {errors[0]}")
    return sent


def end_offsets(consumer_config: dict[str, str], topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """The next offset to be written, per (topic, partition): what a fully drained reader has read."""
    consumer = Consumer({**consumer_config, "group.id": "market-pipeline-offset-probe", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=15)
        offsets = {}
        for topic in topics:
            if topic not in metadata.topics:
                raise KafkaException(f"topic {topic!r} does not exist")
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
                offsets[(topic, partition)] = high
        return offsets
    finally:
        consumer.close()
