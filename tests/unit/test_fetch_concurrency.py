"""Several requests in flight: the meter never sends one the limits cannot pay for, counts each
exactly once, and the free key stays at one request at a time."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from market_pipeline.fetch.alphavantage import AlphaVantageClient, RequestOutcome
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.live import QuotaMeter, SymbolFetched, fetch_and_publish, fetch_concurrently
from market_pipeline.fetch.quota import Ledger, QuotaLimits, QuotaRefused
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server, market
from tests.conftest import TEST_API_KEY, TRADING_MORNING
from tests.unit.helpers import sleep_on

# Virtual seconds per wall second: a minute of limits passes in a little over a second.
SPEEDUP = 50


class FastClock:
    """A clock SPEEDUP times faster than the wall, and a sleep on it, shared by every thread."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.origin = TRADING_MORNING

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.monotonic() - self.started) * SPEEDUP)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0) / SPEEDUP)


def most_in_any_window(moments: list[datetime], seconds: float) -> int:
    """The most of `moments` inside one window [t - seconds, t], t any of them: how a server counts."""
    ordered = sorted(moments)
    return max((sum(1 for other in ordered if timedelta(0) <= moment - other < timedelta(seconds=seconds))
                for moment in ordered), default=0)


@settings(max_examples=12, deadline=None)
@given(
    per_second=st.integers(min_value=2, max_value=12),
    per_minute=st.integers(min_value=10, max_value=60),
    per_day=st.one_of(st.none(), st.integers(min_value=5, max_value=70)),
    requests=st.integers(min_value=1, max_value=70),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_should_never_send_what_the_limits_cannot_pay_for_whatever_the_concurrency(
        per_second, per_minute, per_day, requests, seed):
    """Each request reaches its "server" at a random moment between its send and its answer,
    after a random latency: no second and no minute of arrivals holds more than the limits, the
    day never goes over, and the ledger, the meter and the call log count every request once."""
    limits = QuotaLimits(per_day=per_day, per_minute=per_minute, per_second=per_second)
    clock, store, ledger = FastClock(), MemoryLedgerStore(), Ledger()
    meter = QuotaMeter(store, ledger, limits, "realtime", clock.now, clock.sleep)
    arrivals: list[datetime] = []
    lock = threading.Lock()
    latencies = random.Random(seed)

    def request(symbol: str) -> SymbolFetched:
        try:
            meter.before_request("TIME_SERIES_INTRADAY", {"symbol": symbol})
        except QuotaRefused as refused:
            return SymbolFetched(error=refused)
        with lock:
            latency = latencies.uniform(0, 0.6)
            arrival_after = latencies.uniform(0, latency)
        clock.sleep(arrival_after)
        with lock:
            arrivals.append(clock.now())
        clock.sleep(latency - arrival_after)
        meter.after_request(RequestOutcome("TIME_SERIES_INTRADAY", symbol, None, "ok", 200, 1))
        return SymbolFetched()

    symbols = [f"SYM{number:04d}" for number in range(1, requests + 1)]
    fetch_concurrently(symbols, request, lambda symbol, fetched: fetched.error is None, limits.in_flight)

    assert most_in_any_window(arrivals, 1.0) <= per_second
    assert most_in_any_window(arrivals, 60.0) <= per_minute
    assert len(arrivals) == min(requests, per_day or requests)
    assert ledger.calls_today == meter.requests == len(meter.call_log) == len(arrivals)
    assert Ledger.model_validate_json(store.saved).calls_today == len(arrivals), "saved before each send"


def test_a_premium_key_fetches_concurrently_and_the_simulator_throttles_nothing():
    """The real client against a simulator that answers a burst over 8 a second or a minute over
    60 with its throttle message: 60 symbols in one run, each fetched once, none throttled."""
    clock = SimClock(TRADING_MORNING, speed=SPEEDUP)
    simulator = AlphaVantageSimulator(clock, SimulatorOptions(per_second=8, per_minute=60, per_day=None,
                                                              key_entitlement="realtime"))
    server = make_server(simulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/query"
    watchlist = market.universe(60)
    config = PipelineConfig(
        watchlist=watchlist, interval="5min", outputsize="compact", extended_hours=True, entitlement="realtime",
        fetch_when_closed=False, quota=QuotaConfig(per_day=None, per_minute=60, per_second=8),
        max_offsets_per_trigger=1000)
    in_flight, most_in_flight = 0, 0
    lock = threading.Lock()

    class CountingClient(AlphaVantageClient):
        def _query_once(self, function, params):
            nonlocal in_flight, most_in_flight
            with lock:
                in_flight += 1
                most_in_flight = max(most_in_flight, in_flight)
            try:
                return super()._query_once(function, params)
            finally:
                with lock:
                    in_flight -= 1

    store, published = MemoryLedgerStore(), []
    try:
        summary = fetch_and_publish(
            lambda observer: CountingClient(url, TEST_API_KEY, observer=observer, entitlement="realtime",
                                            max_attempts=1),
            store, lambda messages: published.extend(messages) or len(messages), config,
            now=clock.now, sleep=lambda seconds: time.sleep(max(seconds, 0) / SPEEDUP))
    finally:
        server.shutdown()
        server.server_close()
    assert simulator.throttled_answers == 0
    assert summary.planned == watchlist and not summary.failed and not summary.deferred
    assert simulator.requests_served == summary.calls == store.load().calls_today == 60
    assert {message.key.decode() for message in published} == set(watchlist)
    assert most_in_flight > 1, "premium requests overlap"


def test_the_free_key_sends_one_request_at_a_time_a_second_after_each_answer(simulator):
    simulator.simulator.options.per_second = 1
    observed: list[tuple[str, datetime]] = []

    class Watching:
        def __init__(self, observer):
            self.observer = observer

        def before_request(self, function, params):
            self.observer.before_request(function, params)
            observed.append(("sent", simulator.simulator.clock.now()))

        def after_request(self, outcome):
            observed.append(("answered", simulator.simulator.clock.now()))
            self.observer.after_request(outcome)

    config = PipelineConfig(
        watchlist=["TSLA", "MSFT", "GOOGL", "IBM"], interval="5min", outputsize="compact", extended_hours=True,
        entitlement="realtime", fetch_when_closed=True, quota=QuotaConfig(per_day=25, per_minute=None, per_second=1),
        max_offsets_per_trigger=1000)
    assert config.quota.limits().in_flight == 1
    fetch_and_publish(
        lambda observer: AlphaVantageClient(simulator.base_url, TEST_API_KEY, observer=Watching(observer),
                                            entitlement="realtime", max_attempts=1),
        MemoryLedgerStore(), lambda messages: len(messages), config,
        now=simulator.simulator.clock.now, sleep=sleep_on(simulator.simulator.clock))
    assert [kind for kind, _ in observed] == ["sent", "answered"] * 4, "never two in flight"
    gaps = [observed[i + 1][1] - observed[i][1] for i in range(1, len(observed) - 1, 2)]
    assert all(gap >= timedelta(seconds=1) for gap in gaps)
    assert simulator.simulator.throttled_answers == 0


def test_a_run_that_cannot_finish_leaves_the_stalest_symbols_to_the_next_run(simulator):
    """Ten symbols, four requests a minute: each run takes the four fetched longest ago, so every
    symbol is fetched once before any is fetched twice."""
    watchlist = [f"SYM{number:04d}" for number in range(1, 11)]
    config = PipelineConfig(
        watchlist=watchlist, interval="5min", outputsize="compact", extended_hours=True, entitlement="realtime",
        fetch_when_closed=False, quota=QuotaConfig(per_day=None, per_minute=4, per_second=2),
        max_offsets_per_trigger=1000)
    store = MemoryLedgerStore()
    fetched: list[list[str]] = []
    for _ in range(4):
        summary = fetch_and_publish(
            lambda observer: AlphaVantageClient(simulator.base_url, TEST_API_KEY, observer=observer,
                                                entitlement="realtime", max_attempts=1),
            store, lambda messages: len(messages), config, now=simulator.simulator.clock.now,
            sleep=sleep_on(simulator.simulator.clock))
        fetched.append(summary.planned)
        simulator.simulator.clock.advance(timedelta(seconds=90))  # the next scheduled run
    assert fetched[:2] == [watchlist[:4], watchlist[4:8]]
    assert set(fetched[2][:2]) == set(watchlist[8:]), "the two never fetched first"
    assert len(fetched[2]) == 4 and set(fetched[2][2:]) <= set(watchlist[:4])


def test_the_quota_counters_stay_small_whatever_the_watchlist_and_the_history():
    """A minute of requests at 1,200 a minute and a legacy ledger's 500 symbols x 240 months: the
    counters the store writes before each request stay a few kilobytes."""
    ledger, moment = Ledger(), datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    for request in range(1200):
        ledger.record_call(moment + timedelta(seconds=request / 20))
    assert ledger.calls_last_minute(moment + timedelta(seconds=59.99)) == 1200
    assert len(ledger.model_dump_json()) < 4_000
    legacy = {"calls_today": 3, "recent_calls": [moment.isoformat()] * 3, "symbols": {
        f"SYM{s:04d}": {"watermark": moment.isoformat(), "months": {
            f"{2000 + m // 12}-{m % 12 + 1:02d}": {"run_id": "r", "clear_number": 0, "bars": 1,
                                                   "loaded_at": moment.isoformat()} for m in range(240)}}
        for s in range(1, 501)}}
    parsed = Ledger.model_validate(legacy)
    assert len(parsed.symbols) == 500 and len(parsed.symbol("SYM0001").months) == 240, "nothing lost in reading"
    assert parsed.calls_last_minute(moment) == 3
    assert len(parsed.model_dump_json()) < 1_000, "the symbols are not written back to the Variable"
