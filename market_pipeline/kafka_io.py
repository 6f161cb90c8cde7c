"""Kafka access: topics and their partitions, producing with delivery checks, end offsets.

Called by the fetch task (produce), the backlog check (end offsets), `bin/stack
start` (topics), `cli add-partitions` and the tests.  Producing follows
confluent-kafka's own example: a delivery callback, `poll(0)` while producing,
`flush()` at the end, and any failed delivery raises so a lost message can never
end a task green.  A topic's partitions only ever grow: Kafka cannot shrink a
topic, so a setting below a topic's count is refused rather than ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from market_pipeline.settings import BARS_PARTITIONS, BARS_TOPIC, DEAD_LETTER_TOPIC

log = logging.getLogger(__name__)

# Keyed by symbol: a symbol's bars keep their order within a partition. The bars topic's count is
# the KAFKA_BARS_PARTITIONS setting (config/stack.env states the rule).
TOPIC_PARTITIONS = {BARS_TOPIC: BARS_PARTITIONS, DEAD_LETTER_TOPIC: 1}
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


class PartitionsRefused(ValueError):
    """Fewer partitions asked than a topic has: Kafka cannot take partitions away."""


@dataclass(frozen=True)
class TopicChanges:
    """What `ensure_topics` does: topics to create (name: partitions) and to grow (name: (now, wanted))."""

    create: dict[str, int]
    grow: dict[str, tuple[int, int]]


def plan_topics(current: Mapping[str, int], wanted: Mapping[str, int]) -> TopicChanges:
    """The changes that give every wanted topic its partitions, from the partitions of the topics
    that exist (`current`); refuses a count below a topic's."""
    below = [f"{topic} has {current[topic]} partitions, {count} asked"
             for topic, count in wanted.items() if count < current.get(topic, 0)]
    if below:
        raise PartitionsRefused(f"{'; '.join(below)}: Kafka cannot take partitions from a topic, ask for at "
                                "least its count (the bars topic's: KAFKA_BARS_PARTITIONS)")
    return TopicChanges(
        create={topic: count for topic, count in wanted.items() if topic not in current},
        grow={topic: (current[topic], count) for topic, count in wanted.items()
              if topic in current and count > current[topic]},
    )


def ensure_topics(bootstrap_servers: str, partitions: Mapping[str, int] = TOPIC_PARTITIONS) -> TopicChanges:
    """Create the missing topics and grow those with fewer partitions than `partitions` says."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    changes = plan_topics(_partition_counts(admin), partitions)
    if changes.create:
        wanted = [NewTopic(topic, num_partitions=count, replication_factor=1)
                  for topic, count in changes.create.items()]
        for future in admin.create_topics(wanted).values():
            try:
                future.result(timeout=30)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
    _grow(admin, changes.grow)
    return changes


def add_partitions(bootstrap_servers: str, topic: str, partitions: int) -> tuple[int, int]:
    """Grow an existing topic to `partitions` (refusing fewer than it has): its count before and after."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    before = _partition_counts(admin)
    if topic not in before:
        raise KafkaException(f"topic {topic!r} does not exist")
    _grow(admin, plan_topics({topic: before[topic]}, {topic: partitions}).grow)
    return before[topic], _partition_counts(admin)[topic]


def _partition_counts(admin: AdminClient) -> dict[str, int]:
    return {name: len(topic.partitions) for name, topic in admin.list_topics(timeout=15).topics.items()}


def _grow(admin: AdminClient, grow: Mapping[str, tuple[int, int]]) -> None:
    if not grow:
        return
    futures = admin.create_partitions([NewPartitions(topic, count) for topic, (_, count) in grow.items()])
    for topic, future in futures.items():
        future.result(timeout=30)
        # A warning, so `bin/stack start` shows it: the key -> partition map changed.
        log.warning("grew topic %s from %s to %s partitions: keys hash anew, so a key's later messages "
                    "may go to another partition than its earlier ones", topic, *grow[topic])


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
