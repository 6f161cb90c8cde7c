"""The history fetch and the simulator's month replies: whole months, the live reserve kept,
deferral when the allowance is spent, loaded months skipped unless the run was cleared."""

from datetime import UTC, datetime

from market_pipeline.bars import Bar
from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.history import fetch_history_month
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.quota import (
    Ledger,
    MonthLoad,
    QuotaLimits,
    history_allowance,
    month_ranges,
    months_stored_adjusted,
)
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.simulator import market
from market_pipeline.trading_calendar import EASTERN
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import sleep_on

NOVEMBER_2024_SESSIONS = 20  # 21 weekdays, Thanksgiving closed; the 29th a half day
CONFIG = PipelineConfig(
    watchlist=["TSLA", "MSFT", "GOOGL"], interval="5min", outputsize="compact", extended_hours=True,
    entitlement="none", fetch_when_closed=False, quota=QuotaConfig(per_day=8, per_minute=None, per_second=1),
    max_offsets_per_trigger=1000,
)


def load(simulator, store, month, *, run_id="backfill__2024", clear_number=0, config=CONFIG, published=None):
    published = [] if published is None else published
    summary = fetch_history_month(
        lambda observer: AlphaVantageClient(simulator.base_url, TEST_API_KEY, observer=observer, max_attempts=1),
        store, lambda messages: published.extend(messages) or len(messages), config, month,
        run_id=run_id, clear_number=clear_number, now=simulator.simulator.clock.now,
        sleep=sleep_on(simulator.simulator.clock),
    )
    return summary, published


def test_simulator_month_reply_holds_every_session_of_the_month_holidays_absent_half_days_short(simulator):
    reply = AlphaVantageClient(simulator.base_url, TEST_API_KEY).intraday("MSFT", outputsize="full",
                                                                          month="2024-11")
    days = {}
    for stamp, _ in reply.rows:
        days.setdefault(stamp[:10], []).append(stamp)
    assert len(days) == NOVEMBER_2024_SESSIONS and "2024-11-28" not in days
    assert len(days["2024-11-29"]) == 156 and max(days["2024-11-29"]) == "2024-11-29 16:55:00"  # 04:00-17:00
    assert all(len(stamps) == 192 for day, stamps in days.items() if day != "2024-11-29")
    again = AlphaVantageClient(simulator.base_url, TEST_API_KEY).intraday("MSFT", outputsize="full", month="2024-11")
    assert again.rows == reply.rows, "deterministic"


def test_a_month_before_the_calendar_library_s_default_range_has_its_sessions(simulator):
    # exchange_calendars starts 20 years back unless told; history reaches back to 2000.
    reply = AlphaVantageClient(simulator.base_url, TEST_API_KEY).intraday("MSFT", outputsize="full",
                                                                          month="2001-09")
    days = sorted({stamp[:10] for stamp, _ in reply.rows})
    assert len(days) == 15 and days[:2] == ["2001-09-04", "2001-09-05"]
    assert not {"2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14"} & set(days)  # closed after 9/11


def test_simulator_answers_a_future_month_or_one_before_the_listing_as_an_invalid_call(simulator):
    sim = simulator.simulator
    for symbol, month in (("MSFT", "2027-01"), ("META", "2012-04"), ("MSFT", "1999-12")):
        _, body = sim.answer({"function": "TIME_SERIES_INTRADAY", "symbol": symbol, "interval": "5min",
                              "month": month, "outputsize": "full", "apikey": TEST_API_KEY})
        assert body.lstrip().startswith('{\n    "Error Message": "Invalid API call'), (symbol, month)


def test_history_spends_only_what_the_live_fetch_does_not_need_then_says_when_to_resume(simulator):
    store = MemoryLedgerStore()
    summary, published = load(simulator, store, "2024-11")
    # per_day 8, three kept for the live fetch: five for history.
    assert summary.loaded == ["TSLA", "MSFT", "GOOGL"] and summary.calls == 3
    assert summary.requests_left_for_history == 2
    summary, _ = load(simulator, store, "2024-10")
    assert summary.loaded == ["TSLA", "MSFT"] and summary.remaining == ["GOOGL"]
    assert summary.resume_at == datetime(2026, 11, 25, tzinfo=UTC), "the quota's reset"
    assert store.load().calls_today == 5

    simulator.simulator.clock.set(datetime(2026, 11, 25, 0, 1, tzinfo=UTC))
    summary, _ = load(simulator, store, "2024-10")
    assert summary.already_loaded == ["TSLA", "MSFT"] and summary.loaded == ["GOOGL"] and summary.calls == 1


def test_history_publishes_every_bar_of_the_month_and_leaves_the_live_watermark_alone(simulator):
    store = MemoryLedgerStore()
    ledger = store.load()
    live_watermark = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    ledger.symbol("MSFT").watermark = live_watermark
    store.save_symbol("MSFT", ledger.symbol("MSFT"))
    config = CONFIG.model_copy(update={"watchlist": ["MSFT"]})
    summary, published = load(simulator, store, "2024-11", config=config)
    bars = [Bar.model_validate_json(m.value) for m in published]
    expected = [bar.start for day in market.trading_days(datetime(2024, 11, 1).date(), datetime(2024, 11, 30).date())
                for bar in market.day_bars("MSFT", "5min", day, True)]
    assert sorted(bar.bar_time for bar in bars) == sorted(expected)
    assert summary.bars_published == len(expected)
    assert store.load().symbol("MSFT").watermark == live_watermark


def test_a_loaded_month_is_skipped_unless_its_run_was_cleared(simulator):
    store = MemoryLedgerStore()
    config = CONFIG.model_copy(update={"watchlist": ["MSFT"]})
    load(simulator, store, "2024-11", config=config)
    summary, _ = load(simulator, store, "2024-11", config=config)  # a task retry
    assert summary.already_loaded == ["MSFT"] and summary.calls == 0
    summary, _ = load(simulator, store, "2024-11", config=config, clear_number=1)  # reprocess asked
    assert summary.loaded == ["MSFT"] and summary.calls == 1


def test_a_month_the_api_does_not_have_is_recorded_not_flagged(simulator):
    store = MemoryLedgerStore()
    summary, _ = load(simulator, store, "2012-04", config=CONFIG.model_copy(update={"watchlist": ["META", "MSFT"]}))
    assert list(summary.unavailable) == ["META"] and summary.loaded == ["MSFT"]
    assert store.load().symbol("META").flagged is None


def test_capped_intraday_keys_leave_history_only_days_without_a_session():

    limits = QuotaLimits(per_day=25, per_minute=None, per_second=1)
    tuesday = datetime(2026, 11, 24, 12, 0, tzinfo=EASTERN)
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=EASTERN)
    watchlist = CONFIG.watchlist
    assert history_allowance(Ledger(), limits, watchlist, tuesday, entitlement="none") == 22
    assert history_allowance(Ledger(), limits, watchlist, tuesday, entitlement="realtime") == 0
    assert history_allowance(Ledger(), limits, watchlist, saturday, entitlement="realtime") == 22


def test_progress_counts_the_months_between_the_first_and_the_last_loaded():
    from market_pipeline.fetch.history import history_progress

    assert history_progress(3, "2024-06", "2024-08", symbols=2) == \
        "3 of 6 symbol-months loaded from 2024-06 to 2024-08"
    assert history_progress(0, None, None, symbols=1) == "no history loaded yet"


def test_history_asks_for_bars_as_traded_and_loads_again_a_month_stored_adjusted(simulator):
    """A month loaded before the project asked for adjusted=false holds adjusted prices (the
    ledger's record has no as_traded): the next run of its month loads it again, as traded."""
    store = MemoryLedgerStore()
    config = CONFIG.model_copy(update={"watchlist": ["TSLA"]})
    summary, published = load(simulator, store, "2020-08", config=config)
    traded = {bar.bar_time: bar.close for bar in (Bar.model_validate_json(m.value) for m in published)}
    last_before_split = market.day_bars("TSLA", "5min", datetime(2020, 8, 28).date(), True)[-1]
    assert traded[last_before_split.start.astimezone(UTC)] == last_before_split.close, "as traded, not / 15"
    assert store.load(months=["2020-08"]).symbol("TSLA").months["2020-08"].as_traded

    loaded = store.load(months=["2020-08"]).symbol("TSLA").months["2020-08"]
    store.save_month("TSLA", "2020-08", loaded.model_copy(update={"as_traded": False}))
    summary, _ = load(simulator, store, "2020-08", config=config)
    assert summary.loaded == ["TSLA"] and summary.calls == 1
    assert store.load(months=["2020-08"]).symbol("TSLA").months["2020-08"].as_traded


def test_the_months_stored_adjusted_are_listed_as_the_backfill_ranges_that_mend_them():
    def month(as_traded: bool, unavailable: str | None = None) -> MonthLoad:
        return MonthLoad(run_id="backfill__x", clear_number=0, bars=1, loaded_at=datetime(2026, 1, 1, tzinfo=UTC),
                         as_traded=as_traded, unavailable=unavailable)

    stored = months_stored_adjusted({
        "TSLA": {"2020-08": month(False), "2020-07": month(False), "2020-09": month(True)},
        "MSFT": {"2020-09": month(False), "2020-12": month(False), "2021-01": month(False),
                 "1980-01": month(False, unavailable="before listing")},
    })
    assert stored == {"2020-07": ["TSLA"], "2020-08": ["TSLA"], "2020-09": ["MSFT"], "2020-12": ["MSFT"],
                      "2021-01": ["MSFT"]}, "oldest first; as traded and unavailable months need nothing"
    assert month_ranges(list(stored)) == [("2020-07", "2020-09"), ("2020-12", "2021-01")], "across the new year"
    assert months_stored_adjusted({}) == {}
