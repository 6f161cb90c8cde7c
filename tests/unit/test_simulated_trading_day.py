"""A whole trading day of the fetch logic against the simulator with the free tier's limits.

The DAG's own fetch step (`ingest.fetch_and_publish`) runs every 90 simulated
seconds from 08:00 to 21:00 US/Eastern, with the real client over HTTP and
the same ledger rules; only the ledger's storage (a dict instead of an Airflow
Variable) and the publisher (a list instead of Kafka) are local.
"""

from datetime import UTC, datetime, timedelta

from market_pipeline.alphavantage import AlphaVantageClient
from market_pipeline.bars import Bar
from market_pipeline.config import PipelineConfig, QuotaConfig
from market_pipeline.ingest import fetch_and_publish
from market_pipeline.settings import BARS_TOPIC
from market_pipeline.simulator import SimulatorOptions
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import DictLedgerStore

DAY_START = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 US/Eastern
DAY_END = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 21:00 US/Eastern
REGULAR_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
REGULAR_CLOSE = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
CONFIG = PipelineConfig(
    watchlist=["TSLA", "MSFT", "GOOGL"], interval="5min", outputsize="compact", extended_hours=True,
    fetch_when_closed=False, quota=QuotaConfig(per_day=25, per_minute=None, per_second=1),
    max_offsets_per_trigger=1000,
)


def test_free_tier_day_has_no_throttling_no_gaps_and_at_most_25_calls(simulator, capsys):
    simulator.simulator.options = SimulatorOptions(per_second=1, per_minute=None, per_day=25)
    clock = simulator.simulator.clock
    client = AlphaVantageClient(simulator.base_url, TEST_API_KEY, max_attempts=1)
    store = DictLedgerStore()
    published = []
    calls = 0

    tick = DAY_START
    while tick <= DAY_END:
        clock.set(tick)
        summary = fetch_and_publish(
            client, store, lambda messages: published.extend(messages) or len(messages),
            CONFIG, CONFIG.quota.limits(), now=clock.now,
        )
        calls += summary.calls
        tick += timedelta(seconds=90)

    bars = [Bar.model_validate_json(m.value) for m in published if m.topic == BARS_TOPIC]
    expected = {REGULAR_OPEN + timedelta(minutes=5 * i) for i in range(78)}
    missing = {
        symbol: len(expected - {bar.bar_time for bar in bars if bar.symbol == symbol})
        for symbol in CONFIG.watchlist
    }
    throttled = simulator.simulator.throttled_answers
    with capsys.disabled():
        print(f"\nsimulated free-tier day: calls={calls} throttled_answers={throttled} "
              f"missing_regular_bars={missing}")

    assert throttled == 0
    assert missing == {symbol: 0 for symbol in CONFIG.watchlist}
    assert calls <= 25
    assert simulator.simulator.requests_served == calls
    published_keys = [(bar.symbol, bar.bar_time) for bar in bars]
    assert len(published_keys) == len(set(published_keys)), "watermarks: no bar is published twice"
