"""The fetch step's per-symbol outcomes: watermarks, flagged symbols, the daily limit, the ledger."""

from datetime import UTC, datetime

import pytest

from market_pipeline.alphavantage import AlphaVantageClient, InvalidApiKey
from market_pipeline.config import PipelineConfig, QuotaConfig
from market_pipeline.ingest import FetchIncomplete, fetch_and_publish
from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import DictLedgerStore

CONFIG = PipelineConfig(
    watchlist=["TSLA", "NOSUCH", "MSFT"], interval="5min", outputsize="compact", extended_hours=True,
    fetch_when_closed=True, quota=QuotaConfig(per_day=25, per_minute=None, per_second=1000),
    max_offsets_per_trigger=1000,
)


def run(simulator, store, config=CONFIG):
    published = []
    client = AlphaVantageClient(simulator.base_url, TEST_API_KEY, max_attempts=1)
    summary = fetch_and_publish(
        client, store, lambda messages: published.extend(messages) or len(messages), config,
        config.quota.limits(), now=simulator.simulator.clock.now, force=config.fetch_when_closed,
    )
    return summary, published


def test_should_flag_an_unknown_symbol_and_go_on_with_the_others(simulator):
    store = DictLedgerStore()
    summary, published = run(simulator, store)
    assert set(summary.flagged) == {"NOSUCH"}
    assert {m.key for m in published} == {b"TSLA", b"MSFT"}
    assert summary.bars_published == 200
    ledger = store.load()
    assert ledger.symbol("NOSUCH").flagged and ledger.calls_today == 3

    summary, _ = run(simulator, store)
    assert "NOSUCH" not in summary.planned, "a flagged symbol costs no more calls"


def test_should_publish_only_bars_newer_than_the_watermark(simulator):
    store = DictLedgerStore()
    run(simulator, store)
    watermark = store.load().symbol("MSFT").watermark
    simulator.simulator.clock.set(datetime(2026, 11, 24, 16, 10, tzinfo=UTC))  # two more 5-minute bars
    summary, published = run(simulator, store)
    msft = [m for m in published if m.key == b"MSFT"]
    assert len(msft) == 2 and all(m.topic == BARS_TOPIC for m in msft)
    assert store.load().symbol("MSFT").watermark > watermark


def test_should_stop_and_mark_the_ledger_at_the_daily_limit(simulator):
    simulator.simulator.options.per_day = 1
    store = DictLedgerStore()
    summary, published = run(simulator, store)
    assert summary.daily_limit_reached and summary.calls == 2
    ledger = store.load()
    assert ledger.exhausted_until == datetime(2026, 11, 25, tzinfo=UTC)
    summary, _ = run(simulator, store)
    assert summary.planned == [] and summary.calls == 0, "no call until the reset"


def test_should_send_rejected_rows_to_the_dead_letter_topic(simulator, monkeypatch):
    from market_pipeline.simulator import market

    original = market.intraday_bars

    def with_a_broken_bar(*args, **kwargs):
        bars = original(*args, **kwargs)
        bars[0] = market.SimBar(bars[0].start, bars[0].open, bars[0].low, bars[0].high, bars[0].close, -1)
        return bars

    monkeypatch.setattr(market, "intraday_bars", with_a_broken_bar)
    config = CONFIG.model_copy(update={"watchlist": ["MSFT"]})
    summary, published = run(simulator, DictLedgerStore(), config)
    dead = [m for m in published if m.topic == DEAD_LETTER_TOPIC]
    assert len(dead) == 1 and summary.rejected_published == 1 and summary.bars_published == 99
    assert b"volume" in dead[0].value and b"high" in dead[0].value


def test_should_raise_on_an_invalid_key_after_recording_the_call(simulator):
    simulator.simulator.options.valid_keys = {"another-key"}
    store = DictLedgerStore()
    with pytest.raises(InvalidApiKey):
        run(simulator, store)
    assert store.load().calls_today == 1


def test_should_reject_an_unusable_reply_whole_and_still_publish_the_others(simulator):
    class SwapsTslaReply(AlphaVantageClient):
        def query(self, function, **params):
            payload = super().query(function, **params)
            if params.get("symbol") == "TSLA":
                payload["Meta Data"]["2. Symbol"] = "GOOGL"
            return payload

    store = DictLedgerStore()
    published = []
    config = CONFIG.model_copy(update={"watchlist": ["TSLA", "MSFT"]})
    with pytest.raises(FetchIncomplete, match="TSLA.*ReplyMismatch"):
        fetch_and_publish(
            SwapsTslaReply(simulator.base_url, TEST_API_KEY), store,
            lambda messages: published.extend(messages) or len(messages), config, config.quota.limits(),
            now=simulator.simulator.clock.now, force=True,
        )
    assert {m.key for m in published} == {b"MSFT"}
    ledger = store.load()
    assert ledger.symbol("TSLA").watermark is None and ledger.symbol("TSLA").last_fetch_at is None
    assert ledger.symbol("MSFT").watermark is not None and ledger.calls_today == 2
