"""The corporate actions check: weekly per symbol and early after an unexplained split-sized
price step, paid from what history may spend, an unusable reply failing only its symbol."""

from datetime import UTC, date, datetime, timedelta

import pytest

from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.corporate_actions import actions_due, check_corporate_actions
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.live import FetchIncomplete
from market_pipeline.fetch.quota import Ledger
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.trading_calendar import EASTERN
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import sleep_on


def config(per_day: int | None = 25) -> PipelineConfig:
    return PipelineConfig(
        watchlist=["TSLA", "MSFT", "GOOGL"], interval="5min", outputsize="compact", extended_hours=True,
        entitlement="none", fetch_when_closed=False, max_offsets_per_trigger=1000,
        quota=QuotaConfig(per_day=per_day, per_minute=None, per_second=1))


def check(simulator, store, recorded, *, per_day=25, price_jumps=None):
    return check_corporate_actions(
        lambda observer: AlphaVantageClient(simulator.base_url, TEST_API_KEY, observer=observer, max_attempts=1),
        store, lambda actions: recorded.append(actions) or True, config(per_day),
        now=simulator.simulator.clock.now, sleep=sleep_on(simulator.simulator.clock), price_jumps=price_jumps)


def test_each_symbol_is_checked_once_a_week_with_two_requests(simulator):
    store, recorded = MemoryLedgerStore(), []
    summary = check(simulator, store, recorded)
    assert summary.checked == ["TSLA", "MSFT", "GOOGL"] and summary.calls == 6 == simulator.simulator.requests_served
    assert {actions.symbol: len(actions.dividends) > 0 for actions in recorded} == {
        "TSLA": False, "MSFT": True, "GOOGL": False}
    assert all(store.load().symbol(symbol).actions_checked_at for symbol in summary.checked)

    simulator.simulator.clock.advance(timedelta(days=6))
    assert check(simulator, store, recorded).calls == 0, "checked within the week"
    simulator.simulator.clock.advance(timedelta(days=1, minutes=1))
    assert check(simulator, store, recorded).checked == ["TSLA", "MSFT", "GOOGL"]


def test_the_check_spends_only_what_history_may_and_leaves_the_rest_for_the_next_run(simulator):
    store, recorded = MemoryLedgerStore(), []
    # 8 a day, three kept for the live fetch: five for history and actions, so two symbols now.
    summary = check(simulator, store, recorded, per_day=8)
    assert summary.checked == ["TSLA", "MSFT"] and summary.calls == 4 and store.load().calls_today == 4
    simulator.simulator.clock.advance(timedelta(days=1))
    assert check(simulator, store, recorded, per_day=8).checked == ["GOOGL"], "the stalest next"


def test_an_unusable_reply_fails_its_symbol_only_and_keeps_it_due(simulator):
    store, recorded = MemoryLedgerStore(), []
    simulator.simulator.options.unknown_symbols = {"MSFT"}
    with pytest.raises(FetchIncomplete, match="MSFT"):
        check(simulator, store, recorded)
    assert [actions.symbol for actions in recorded] == ["TSLA", "GOOGL"]
    assert store.load().symbol("MSFT").actions_checked_at is None
    simulator.simulator.options.unknown_symbols = set()
    assert check(simulator, store, recorded).checked == ["MSFT"]


def test_a_split_sized_step_on_a_day_without_a_known_split_is_checked_at_once(simulator):
    store, recorded = MemoryLedgerStore(), []
    check(simulator, store, recorded)  # all three checked on the simulator's day
    checked_day = simulator.simulator.clock.now().astimezone(EASTERN).date()
    simulator.simulator.clock.advance(timedelta(days=2))

    jumps = {"MSFT": checked_day + timedelta(days=1)}
    summary = check(simulator, store, recorded, price_jumps=jumps)
    assert summary.due == ["MSFT"] and summary.checked == ["MSFT"] and summary.calls == 2
    assert summary.price_jumps == {"MSFT": jumps["MSFT"].isoformat()}
    assert check(simulator, store, recorded, price_jumps=jumps).calls == 0, \
        "checked since that session: a real gap that was no split costs two requests once"
    same_day = {"TSLA": checked_day}
    assert check(simulator, store, recorded, price_jumps=same_day).calls == 0, "checked after that session opened"


def test_symbols_with_a_jump_come_before_the_stalest():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    ledger = Ledger()
    ledger.symbol("TSLA").actions_checked_at = now - timedelta(days=30)
    ledger.symbol("MSFT").actions_checked_at = now - timedelta(days=8)
    ledger.symbol("GOOGL").actions_checked_at = now - timedelta(days=3)
    watchlist = ["TSLA", "MSFT", "GOOGL", "NVDA"]
    assert actions_due(ledger, watchlist, now) == ["NVDA", "TSLA", "MSFT"], "never checked, then the stalest"
    assert actions_due(ledger, watchlist, now, {"GOOGL": date(2026, 11, 23)}) == ["GOOGL", "NVDA", "TSLA", "MSFT"]
    assert actions_due(ledger, watchlist, now, {"NVDA": date(2026, 11, 23)}) == ["NVDA", "TSLA", "MSFT"], \
        "never checked and jumped"
    ledger.symbol("GOOGL").flagged = "InvalidCall: unknown symbol"
    assert actions_due(ledger, watchlist, now, {"GOOGL": date(2026, 11, 23)}) == ["NVDA", "TSLA", "MSFT"]
