"""The call planner per entitlement: end-of-day sessions, the spread session budget, premium keys."""

from bisect import bisect_left
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from market_pipeline.fetch.quota import Ledger, QuotaLimits, explain_idle, live_outputsize, next_quota_reset, plan_calls
from market_pipeline.trading_calendar import publication_time, session_bounds, trading_days

WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
FREE = QuotaLimits(per_day=25, per_minute=None, per_second=1)
PREMIUM = QuotaLimits(per_day=None, per_minute=75, per_second=5)
# Tuesday 2026-11-24 (EST): regular session 14:30-21:00 UTC, extended data until 01:00 UTC.
OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
EXTENDED_END = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
PUBLISHED = EXTENDED_END + timedelta(minutes=30)  # 20:30 US/Eastern
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
THANKSGIVING_NOON = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
HALF_DAY = datetime(2026, 11, 27).date()


def fetched_ledger(at: datetime) -> Ledger:
    ledger = Ledger()
    for symbol in WATCHLIST:
        ledger.symbol(symbol).last_fetch_at = at
    return ledger


def test_should_fetch_never_fetched_symbols_at_once_even_when_closed():
    for entitlement in ("none", "delayed", "realtime"):
        assert plan_calls(Ledger(), FREE, WATCHLIST, SATURDAY, entitlement=entitlement) == WATCHLIST


def test_should_fetch_when_closed_if_forced():
    assert plan_calls(fetched_ledger(SATURDAY), FREE, WATCHLIST, SATURDAY, force=True) == WATCHLIST


def test_end_of_day_key_makes_no_call_during_the_session():
    ledger = fetched_ledger(OPEN - timedelta(hours=12))  # fetched after Monday's publication
    for hours in range(0, 11):
        assert plan_calls(ledger, FREE, WATCHLIST, OPEN + timedelta(hours=hours), entitlement="none") == []


def test_end_of_day_key_fetches_each_symbol_once_when_the_session_is_published():
    ledger = fetched_ledger(OPEN - timedelta(hours=12))
    assert plan_calls(ledger, FREE, WATCHLIST, PUBLISHED - timedelta(minutes=1), entitlement="none") == []
    assert plan_calls(ledger, FREE, WATCHLIST, PUBLISHED, entitlement="none") == WATCHLIST
    ledger = fetched_ledger(PUBLISHED + timedelta(minutes=2))
    assert plan_calls(ledger, FREE, WATCHLIST, PUBLISHED + timedelta(hours=3), entitlement="none") == []


def test_end_of_day_key_waits_through_a_holiday_and_publishes_a_half_day_early():
    after_wednesday = fetched_ledger(publication_time(datetime(2026, 11, 25).date()) + timedelta(minutes=1))
    assert plan_calls(after_wednesday, FREE, WATCHLIST, THANKSGIVING_NOON, entitlement="none") == []
    half_day_published = publication_time(HALF_DAY)
    assert half_day_published == datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # 17:30 US/Eastern
    assert plan_calls(after_wednesday, FREE, WATCHLIST, half_day_published, entitlement="none") == WATCHLIST


def test_should_say_why_nothing_is_due():
    ledger = fetched_ledger(OPEN - timedelta(hours=12))
    reason = explain_idle(ledger, FREE, WATCHLIST, OPEN, entitlement="none")
    assert "2026-11-23 session was published" in reason and "2026-11-24 20:30 EST" in reason
    ledger.mark_exhausted(OPEN)
    assert "daily limit" in explain_idle(ledger, FREE, WATCHLIST, OPEN, entitlement="realtime")


def test_end_of_day_keys_fetch_full_replies():
    assert live_outputsize("none", "compact") == "full"
    assert live_outputsize("delayed", "compact") == "compact"


def test_should_refresh_each_symbol_once_after_the_session_data_ends():
    ledger = fetched_ledger(CLOSE - timedelta(minutes=10))
    assert plan_calls(ledger, FREE, WATCHLIST, CLOSE + timedelta(hours=1), entitlement="realtime") == []
    after = EXTENDED_END + timedelta(minutes=2)
    assert plan_calls(ledger, FREE, WATCHLIST, after, entitlement="realtime") == WATCHLIST
    assert plan_calls(fetched_ledger(after), FREE, WATCHLIST, after + timedelta(minutes=2),
                      entitlement="realtime") == []


def test_delayed_key_shifts_the_final_refresh_by_fifteen_minutes():
    ledger = fetched_ledger(CLOSE - timedelta(minutes=10))
    after = EXTENDED_END + timedelta(minutes=2)
    assert plan_calls(ledger, FREE, WATCHLIST, after, entitlement="delayed") == []
    assert plan_calls(ledger, FREE, WATCHLIST, after + timedelta(minutes=15), entitlement="delayed") == WATCHLIST


def test_should_pick_the_stalest_symbol_first_in_session():
    ledger = fetched_ledger(OPEN)
    ledger.symbol("MSFT").last_fetch_at = OPEN - timedelta(hours=1)
    # 22 calls over the 5.5 h left: one every 15 min; the last call was 20 min ago.
    ledger.last_call_at = OPEN + timedelta(minutes=40)
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN + timedelta(hours=1), entitlement="realtime") == ["MSFT"]


def test_should_spread_calls_over_the_session_and_keep_the_reserve():
    for entitlement, delay in (("realtime", timedelta(0)), ("delayed", timedelta(minutes=15))):
        ledger = fetched_ledger(OPEN - timedelta(hours=20))
        call_times = []
        moment = OPEN
        while moment < CLOSE + delay:
            for symbol in plan_calls(ledger, FREE, WATCHLIST, moment, entitlement=entitlement):
                ledger.record_call(moment)
                ledger.symbol(symbol).last_fetch_at = moment
                call_times.append(moment)
            moment += timedelta(seconds=90)
        assert len(call_times) == FREE.per_day - len(WATCHLIST), "all but the final refresh is spent in session"
        assert call_times[0] >= OPEN + delay
        even_gap = (CLOSE - OPEN) / len(call_times)  # about 18 minutes
        gaps = [later - earlier for earlier, later in zip(call_times, call_times[1:], strict=False)]
        assert max(gaps) < 1.5 * even_gap and min(gaps) > 0.5 * even_gap, "spread evenly, no bursts"


def test_should_stop_when_exhausted_until_the_reset():
    ledger = fetched_ledger(OPEN - timedelta(hours=20))
    ledger.mark_exhausted(OPEN)
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN + timedelta(hours=2), entitlement="realtime") == []
    assert ledger.exhausted_until == next_quota_reset(OPEN) == datetime(2026, 11, 25, tzinfo=UTC)


def test_should_respect_per_minute_limit_of_premium_keys():
    premium = QuotaLimits(per_day=None, per_minute=2, per_second=5)
    ledger = fetched_ledger(OPEN)
    moment = OPEN + timedelta(minutes=5)
    assert plan_calls(ledger, premium, WATCHLIST, moment, entitlement="realtime") == ["TSLA", "MSFT"]
    ledger.record_call(moment)
    assert len(plan_calls(ledger, premium, WATCHLIST, moment + timedelta(seconds=10), entitlement="realtime")) == 1


def test_premium_key_fetches_on_every_run_from_the_first_bar_but_not_at_the_weekend():
    assert plan_calls(fetched_ledger(SATURDAY - timedelta(minutes=5)), PREMIUM, WATCHLIST, SATURDAY,
                      entitlement="realtime") == []
    first_bar = OPEN - timedelta(hours=5, minutes=30)  # 04:00 US/Eastern
    ledger = fetched_ledger(first_bar - timedelta(minutes=1))
    assert plan_calls(ledger, PREMIUM, WATCHLIST, first_bar + timedelta(minutes=2), entitlement="delayed") == []
    assert plan_calls(ledger, PREMIUM, WATCHLIST, first_bar + timedelta(minutes=16),
                      entitlement="delayed") == WATCHLIST
    assert plan_calls(ledger, PREMIUM, WATCHLIST, first_bar + timedelta(minutes=2),
                      entitlement="realtime") == WATCHLIST


def test_premium_end_of_day_key_still_fetches_once_per_published_session():
    ledger = fetched_ledger(OPEN - timedelta(hours=12))
    assert plan_calls(ledger, PREMIUM, WATCHLIST, OPEN + timedelta(hours=2), entitlement="none") == []
    assert plan_calls(ledger, PREMIUM, WATCHLIST, PUBLISHED, entitlement="none") == WATCHLIST


def test_should_skip_flagged_symbols():
    ledger = Ledger()
    ledger.symbol("MSFT").flagged = "Invalid API call"
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN) == ["TSLA", "GOOGL"]


def test_should_start_a_new_quota_day_at_utc_midnight():
    ledger = Ledger()
    ledger.record_call(datetime(2026, 11, 24, 23, 59, tzinfo=UTC))
    ledger.roll_over(datetime(2026, 11, 25, 0, 1, tzinfo=UTC))
    assert ledger.calls_today == 0


DAYS_START = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # Tuesday, before the pre-market
DAYS_END = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # Sunday: Thanksgiving and its half day included


@settings(max_examples=30, deadline=None)
@given(
    entitlement=st.sampled_from(["none", "delayed", "realtime"]),
    limits=st.sampled_from([FREE, QuotaLimits(per_day=10, per_minute=None, per_second=1), PREMIUM,
                            QuotaLimits(per_day=None, per_minute=4, per_second=1)]),
    watchlist_size=st.integers(min_value=1, max_value=4),
    step_seconds=st.integers(min_value=60, max_value=300),
)
def test_plan_never_exceeds_the_limits_and_completes_every_session(entitlement, limits, watchlist_size,
                                                                   step_seconds):
    """Runs every `step_seconds` over five days; every call planned is made and recorded."""
    watchlist = (WATCHLIST + ["AAPL"])[:watchlist_size]
    ledger = Ledger()
    calls: list[tuple[datetime, str]] = []
    moment = DAYS_START
    while moment < DAYS_END:
        for symbol in plan_calls(ledger, limits, watchlist, moment, entitlement=entitlement):
            ledger.record_call(moment)
            ledger.symbol(symbol).last_fetch_at = moment
            calls.append((moment, symbol))
        moment += timedelta(seconds=step_seconds)

    if limits.per_day is not None:
        assert max(Counter(moment.date() for moment, _ in calls).values()) <= limits.per_day
    if limits.per_minute is not None:
        times = [moment for moment, _ in calls]  # in order
        assert all(bisect_left(times, moment + timedelta(minutes=1)) - index <= limits.per_minute
                   for index, moment in enumerate(times))
    # Complete: once a session's last bar is visible to the key, every symbol is fetched again, promptly.
    delay = {"delayed": timedelta(minutes=15), "realtime": timedelta(0)}.get(entitlement)
    window = timedelta(seconds=step_seconds * (watchlist_size + 1) + 60)
    for day in trading_days(DAYS_START.date(), DAYS_END.date()):
        visible = publication_time(day) if delay is None else session_bounds(day, True)[1] + delay
        for symbol in watchlist:
            assert any(s == symbol and visible <= t < visible + window for t, s in calls), (day, symbol)
