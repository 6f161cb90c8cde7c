"""Drill `broker`: SIGKILL the Kafka broker while a fetch publishes, restart it, and count.

The fetch is the project's own: `ingest.fetch_and_publish` against an in-process simulator,
publishing with `kafka_io.make_producer` (idempotent, acks=all) and `kafka_io.produce_all`, to a
private broker (`harness.services.PrivateKafka`) so the shared one is never touched. Part-way
through one symbol's publish (seeded), the broker is killed; a thread starts it again a few
seconds later, while the producer keeps queueing and then flushes. A fetch that still fails is
tried again with the same ledger, as Airflow's retry would. Then every message on the topic is
counted per key and per bar against the bars the simulator served: none lost, none twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from drills.counts import ServedBars, check_topic_holds_each_bar_once
from drills.report import Report
from harness.services import private_kafka
from harness.topics import topic_messages
from market_pipeline import kafka_io
from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.live import fetch_and_publish
from market_pipeline.in_airflow.connections import kafka_config
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig, default_config
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server
from market_pipeline.simulator.market import KNOWN_SYMBOLS

# A trading Tuesday, 11:00 US/Eastern: a realtime key sees 30 days of 5-minute bars, ~4,000 a symbol.
SIM_START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
TOPICS = ("drill.bars", "drill.dead-letter")
FETCH_TRIES = 3  # the live DAG's fetch: retries=2
API_KEY = "DRILL-KEY"


def run(report: Report, *, seed: int, down_seconds: float = 5.0) -> None:
    rng = random.Random(seed)
    config = PipelineConfig(
        watchlist=sorted(KNOWN_SYMBOLS), interval="5min", outputsize="full", extended_hours=True,
        entitlement="realtime", fetch_when_closed=False,
        quota=QuotaConfig(per_day=None, per_minute=None, per_second=10),
        max_offsets_per_trigger=default_config().max_offsets_per_trigger)
    # The publish (one per symbol) during which the broker dies, and when: a publish of ~4,000
    # messages is handed to the producer in ~50-100 ms, acknowledged in a few requests as it goes.
    kill_publish, kill_after = rng.randrange(2, len(config.watchlist)), rng.uniform(0.0, 0.06)

    with private_kafka() as broker, _simulator() as (simulator, base_url):
        report.step(f"private broker on {broker.bootstrap} (log folder {broker.folder})")
        kafka_io.ensure_topics(broker.bootstrap, {TOPICS[0]: 3, TOPICS[1]: 1})
        served = ServedBars(simulator)
        producer_config = {**kafka_config(), "bootstrap.servers": broker.bootstrap}
        effective = {**kafka_io.PRODUCER_DEFAULTS, **producer_config}  # what make_producer hands librdkafka
        report.check("producer enable.idempotence (kafka_io.PRODUCER_DEFAULTS + kafka_default)", True,
                     effective.get("enable.idempotence"))
        report.check("producer acks", "all", effective.get("acks"))
        producer = kafka_io.make_producer(producer_config)

        publishes = 0
        outage = threading.Timer(kill_after, _kill_and_restart, (broker, producer, report, down_seconds))

        def publish(messages: list[kafka_io.Message]) -> int:
            nonlocal publishes
            publishes += 1
            if publishes == kill_publish:
                report.step(f"publish {publishes} ({messages[0].key.decode()}, {len(messages)} messages) starts; "
                            f"the broker is killed {kill_after * 1000:.0f} ms into it")
                outage.start()
            return kafka_io.produce_all(producer, messages)

        def connect(observer) -> AlphaVantageClient:
            return AlphaVantageClient(base_url, API_KEY, entitlement=config.entitlement, observer=observer)

        store = MemoryLedgerStore()
        tries = 0
        for tries in range(1, FETCH_TRIES + 1):
            try:
                summary = fetch_and_publish(connect, store, publish, config, topics=TOPICS,
                                            now=simulator.clock.now)
                report.step(f"fetch try {tries}: {summary.calls} calls, {summary.bars_published} bars published")
                break
            except kafka_io.DeliveryFailed as exc:
                report.step(f"fetch try {tries} failed: {exc}; tried again with the same ledger")
        outage.join()
        report.check("fetch tries (a broker restart inside the flush timeout needs no retry)", 1, tries)
        check_topic_holds_each_bar_once(report, served, topic_messages(broker.bootstrap, TOPICS[0]))
        report.check("messages on the dead-letter topic", 0, len(topic_messages(broker.bootstrap, TOPICS[1])))


def _kill_and_restart(broker, producer, report: Report, down_seconds: float) -> None:
    unacknowledged = len(producer)
    broker.kill()
    report.step(f"broker SIGKILLed with {unacknowledged} messages not yet acknowledged; "
                f"starting it again in {down_seconds:.0f} s")
    time.sleep(down_seconds)
    started = time.monotonic()
    broker.start()
    report.step(f"broker restarted (listening after {time.monotonic() - started:.1f} s)")


@contextmanager
def _simulator() -> Iterator[tuple[AlphaVantageSimulator, str]]:
    simulator = AlphaVantageSimulator(
        SimClock(SIM_START), SimulatorOptions(per_second=None, per_minute=None, per_day=None,
                                              key_entitlement="realtime"))
    server = make_server(simulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield simulator, f"http://127.0.0.1:{server.server_address[1]}/query"
    finally:
        server.shutdown()
        server.server_close()
