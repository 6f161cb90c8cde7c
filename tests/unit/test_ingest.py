"""The fetch step's per-symbol outcomes: watermarks, flagged symbols, the daily limit, the ledger."""

from datetime import UTC, datetime, timedelta

import pytest

from market_pipeline.fetch.alphavantage import AlphaVantageClient, InvalidApiKey, RequestOutcome
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.live import FetchIncomplete, QuotaMeter, fetch_and_publish
from market_pipeline.fetch.quota import Ledger, QuotaLimits
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import RecordingObserver, sleep_on

CONFIG = PipelineConfig(
    watchlist=["TSLA", "NOSUCH", "MSFT"], interval="5min", outputsize="compact", extended_hours=True,
    entitlement="realtime", fetch_when_closed=True,
    quota=QuotaConfig(per_day=25, per_minute=None, per_second=1), max_offsets_per_trigger=1000,
)


def connect(simulator, client_class=AlphaVantageClient, **kwargs):
    kwargs.setdefault("max_attempts", 1)
    return lambda observer: client_class(simulator.base_url, TEST_API_KEY, observer=observer,
                                         entitlement=CONFIG.entitlement, **kwargs)


def run(simulator, store, config=CONFIG, call_log=None, **kwargs):
    published = []
    summary = fetch_and_publish(
        connect(simulator, **kwargs), store, lambda messages: published.extend(messages) or len(messages), config,
        now=simulator.simulator.clock.now, call_log=call_log, sleep=sleep_on(simulator.simulator.clock),
    )
    return summary, published


def test_should_flag_an_unknown_symbol_and_go_on_with_the_others(simulator):
    store = MemoryLedgerStore()
    summary, published = run(simulator, store)
    assert set(summary.flagged) == {"NOSUCH"}
    assert {m.key for m in published} == {b"TSLA", b"MSFT"}
    assert summary.bars_published == 200
    ledger = store.load()
    assert ledger.symbol("NOSUCH").flagged and ledger.calls_today == 3

    summary, _ = run(simulator, store)
    assert "NOSUCH" not in summary.planned, "a flagged symbol costs no more calls"


def test_should_publish_only_bars_newer_than_the_watermark(simulator):
    store = MemoryLedgerStore()
    run(simulator, store)
    watermark = store.load().symbol("MSFT").watermark
    simulator.simulator.clock.set(datetime(2026, 11, 24, 16, 10, tzinfo=UTC))  # two more 5-minute bars
    summary, published = run(simulator, store)
    msft = [m for m in published if m.key == b"MSFT"]
    assert len(msft) == 2 and all(m.topic == BARS_TOPIC for m in msft)
    assert store.load().symbol("MSFT").watermark > watermark


def test_should_stop_and_mark_the_ledger_at_the_daily_limit(simulator):
    simulator.simulator.options.per_day = 1
    store = MemoryLedgerStore()
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
    summary, published = run(simulator, MemoryLedgerStore(), config)
    dead = [m for m in published if m.topic == DEAD_LETTER_TOPIC]
    assert len(dead) == 1 and summary.rejected_published == 1 and summary.bars_published == 99
    assert b"volume" in dead[0].value and b"high" in dead[0].value


def test_should_raise_on_an_invalid_key_after_recording_the_call(simulator):
    simulator.simulator.options.valid_keys = {"another-key"}
    store = MemoryLedgerStore()
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

    store = MemoryLedgerStore()
    published = []
    config = CONFIG.model_copy(update={"watchlist": ["TSLA", "MSFT"]})
    with pytest.raises(FetchIncomplete, match="TSLA.*ReplyMismatch"):
        fetch_and_publish(
            connect(simulator, SwapsTslaReply), store,
            lambda messages: published.extend(messages) or len(messages), config,
            now=simulator.simulator.clock.now,
        )
    assert {m.key for m in published} == {b"MSFT"}
    ledger = store.load()
    assert ledger.symbol("TSLA").watermark is None and ledger.symbol("TSLA").last_fetch_at is None
    assert ledger.symbol("MSFT").watermark is not None and ledger.calls_today == 2


class SaveWatchingStore(MemoryLedgerStore):
    """Notes, at every save, the ledger's count and how many requests the simulator had answered."""

    def __init__(self, simulator) -> None:
        super().__init__()
        self.simulator = simulator
        self.saves: list[tuple[int, int]] = []

    def save(self, ledger) -> None:
        super().save(ledger)
        self.saves.append((ledger.calls_today, self.simulator.requests_served))


def test_should_count_every_throttled_retry_before_it_is_sent(simulator):
    simulator.simulator.options.throttle_next = 2
    store = SaveWatchingStore(simulator.simulator)
    call_log = []
    config = CONFIG.model_copy(update={"watchlist": ["MSFT"]})
    summary, published = run(simulator, store, config, call_log, max_attempts=4, backoff_seconds=0.01)
    assert simulator.simulator.requests_served == 3 == summary.calls == store.load().calls_today
    # Each request's save came before the simulator answered it: the ledger is never behind.
    assert [saved for saved, answered in store.saves[:3]] == [1, 2, 3]
    assert all(answered == saved - 1 for saved, answered in store.saves[:3])
    assert [(call.outcome, call.symbol, call.entitlement) for call in call_log] == [
        ("rate_limited", "MSFT", "realtime"), ("rate_limited", "MSFT", "realtime"), ("ok", "MSFT", "realtime")]
    assert call_log[-1].bars == 100 and call_log[-1].http_status == 200
    assert TEST_API_KEY not in repr(call_log)


def test_should_never_send_a_retry_the_ledger_cannot_pay_for(simulator):
    simulator.simulator.options.throttle_next = 10
    config = CONFIG.model_copy(update={"watchlist": ["MSFT", "TSLA"],
                                       "quota": QuotaConfig(per_day=3, per_minute=None, per_second=1)})
    store = MemoryLedgerStore()
    ledger = store.load()
    ledger.record_call(simulator.simulator.clock.now())
    store.save(ledger)

    summary, published = run(simulator, store, config, max_attempts=4, backoff_seconds=0.01)
    assert simulator.simulator.requests_served == 2, "two left of three: the client's third attempt is refused"
    assert store.load().calls_today == 3
    assert summary.deferred == ["MSFT", "TSLA"] and published == []

    # An Airflow retry of the task finds the budget spent and sends nothing.
    summary, _ = run(simulator, store, config, max_attempts=4, backoff_seconds=0.01)
    assert summary.planned == [] and simulator.simulator.requests_served == 2


def test_should_fetch_whole_sessions_without_the_entitlement_parameter_for_end_of_day_keys(simulator):
    simulator.simulator.options.key_entitlement = "none"
    config = CONFIG.model_copy(update={"watchlist": ["MSFT"], "entitlement": "none"})
    observer = RecordingObserver()
    fetch_and_publish(
        lambda meter: AlphaVantageClient(simulator.base_url, TEST_API_KEY, observer=observer),
        MemoryLedgerStore(), lambda messages: len(messages), config, now=simulator.simulator.clock.now,
    )
    [(function, params)] = observer.sent
    assert "entitlement" not in params and params["outputsize"] == "full"
    assert observer.outcomes[0].bars > 192 * 15, "the trailing 30 days, every extended-hours bar"


def test_requests_are_paced_from_the_previous_answer_not_its_send():
    """A slow answer means the server may have counted that request late: the next one waits
    a full gap after the answer, so the server never sees two inside one second."""
    clock = {"now": datetime(2026, 11, 24, 15, 0, tzinfo=UTC)}
    now = lambda: clock["now"]  # noqa: E731

    def sleep(seconds):
        clock["now"] += timedelta(seconds=seconds)

    meter = QuotaMeter(MemoryLedgerStore(), Ledger(), QuotaLimits(per_day=25, per_minute=None, per_second=1),
                       "none", now, sleep)
    sent, answered = [], []
    for symbol in ("TSLA", "MSFT"):
        meter.before_request("TIME_SERIES_INTRADAY", {"symbol": symbol})
        sent.append(now())
        clock["now"] += timedelta(seconds=0.8)  # the request's round trip
        meter.after_request(RequestOutcome("TIME_SERIES_INTRADAY", symbol, None, "ok", 200, 100))
        answered.append(now())
    assert sent[1] - answered[0] >= timedelta(seconds=1)
