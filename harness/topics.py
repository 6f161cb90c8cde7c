"""Topics of a drill: created for it, read whole, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, TopicPartition

from market_pipeline import kafka_io


@contextmanager
def own_topics(bootstrap: str) -> Iterator[dict[str, str]]:
    """A bars and a dead-letter topic for this drill on the stack's broker, deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    topics = {"bars": f"drill.bars.{suffix}", "dead_letter": f"drill.dead-letter.{suffix}"}
    kafka_io.ensure_topics(bootstrap, {topics["bars"]: 2, topics["dead_letter"]: 1})
    try:
        yield topics
    finally:
        kafka_io.delete_topics(bootstrap, topics.values())


def topic_messages(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of every message on the topic, from offset 0 to its end offsets."""
    ends = kafka_io.end_offsets({"bootstrap.servers": bootstrap}, [topic])
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"drill-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0) for (_, partition), end in ends.items() if end > 0])
    messages, remaining = [], sum(ends.values())
    try:
        while remaining > 0:
            message = consumer.poll(30)
            if message is None:
                raise TimeoutError(f"{remaining} messages of {topic} never arrived")
            if message.error() is not None:
                raise RuntimeError(f"{topic}: {message.error()}")
            messages.append((message.key(), message.value()))
            remaining -= 1
    finally:
        consumer.close()
    return messages
