"""The call planner: budget spread over the session, reserve for the final refresh, closed market."""

from datetime import UTC, datetime, timedelta

from market_pipeline.quota import Ledger, QuotaLimits, next_quota_reset, plan_calls

WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
FREE = QuotaLimits(per_day=25, per_minute=None, per_second=1)
# Tuesday 2026-11-24 (EST): regular session 14:30-21:00 UTC, extended data until 01:00 UTC.
OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)


def fetched_ledger(at: datetime) -> Ledger:
    ledger = Ledger()
    for symbol in WATCHLIST:
        ledger.symbol(symbol).last_fetch_at = at
    return ledger


def test_should_fetch_never_fetched_symbols_at_once_even_when_closed():
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert plan_calls(Ledger(), FREE, WATCHLIST, saturday) == WATCHLIST


def test_should_make_no_call_while_closed_after_the_final_refresh():
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert plan_calls(fetched_ledger(saturday - timedelta(hours=1)), FREE, WATCHLIST, saturday) == []


def test_should_fetch_when_closed_if_forced():
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert plan_calls(fetched_ledger(saturday), FREE, WATCHLIST, saturday, force=True) == WATCHLIST


def test_should_refresh_each_symbol_once_after_the_session_data_ends():
    ledger = fetched_ledger(CLOSE - timedelta(minutes=10))
    assert plan_calls(ledger, FREE, WATCHLIST, CLOSE + timedelta(hours=1)) == []  # post-market still running
    after = CLOSE + timedelta(hours=4, minutes=2)
    assert plan_calls(ledger, FREE, WATCHLIST, after) == WATCHLIST
    assert plan_calls(fetched_ledger(after), FREE, WATCHLIST, after + timedelta(minutes=2)) == []


def test_should_pick_the_stalest_symbol_first_in_session():
    ledger = fetched_ledger(OPEN)
    ledger.symbol("MSFT").last_fetch_at = OPEN - timedelta(hours=1)
    # 22 calls over the 5.5 h left: one every 15 min; the last call was 20 min ago.
    ledger.last_call_at = OPEN + timedelta(minutes=40)
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN + timedelta(hours=1)) == ["MSFT"]


def test_should_spread_calls_over_the_session_and_keep_the_reserve():
    ledger = fetched_ledger(OPEN - timedelta(hours=20))
    call_times = []
    moment = OPEN
    while moment < CLOSE:
        for symbol in plan_calls(ledger, FREE, WATCHLIST, moment):
            ledger.record_call(moment)
            ledger.symbol(symbol).last_fetch_at = moment
            call_times.append(moment)
        moment += timedelta(seconds=90)
    assert len(call_times) == FREE.per_day - len(WATCHLIST), "all but the final refresh is spent in session"
    even_gap = (CLOSE - OPEN) / len(call_times)  # about 18 minutes
    gaps = [later - earlier for earlier, later in zip(call_times, call_times[1:], strict=False)]
    assert max(gaps) < 1.5 * even_gap and min(gaps) > 0.5 * even_gap, "spread evenly, no bursts"


def test_should_stop_when_exhausted_until_the_reset():
    ledger = fetched_ledger(OPEN - timedelta(hours=20))
    ledger.mark_exhausted(OPEN)
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN + timedelta(hours=2)) == []
    assert ledger.exhausted_until == next_quota_reset(OPEN) == datetime(2026, 11, 25, tzinfo=UTC)


def test_should_respect_per_minute_limit_of_premium_keys():
    premium = QuotaLimits(per_day=None, per_minute=2, per_second=5)
    ledger = fetched_ledger(OPEN)
    assert plan_calls(ledger, premium, WATCHLIST, OPEN + timedelta(minutes=5)) == ["TSLA", "MSFT"]
    ledger.record_call(OPEN + timedelta(minutes=5))
    assert len(plan_calls(ledger, premium, WATCHLIST, OPEN + timedelta(minutes=5, seconds=10))) == 1


def test_should_fetch_everything_in_session_but_nothing_at_the_weekend_with_a_premium_key():
    premium = QuotaLimits(per_day=None, per_minute=None, per_second=5)
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert plan_calls(fetched_ledger(saturday - timedelta(minutes=5)), premium, WATCHLIST, saturday) == []
    pre_market = OPEN - timedelta(hours=1)
    assert plan_calls(fetched_ledger(pre_market), premium, WATCHLIST, pre_market + timedelta(minutes=2)) == WATCHLIST


def test_should_skip_flagged_symbols():
    ledger = Ledger()
    ledger.symbol("MSFT").flagged = "Invalid API call"
    assert plan_calls(ledger, FREE, WATCHLIST, OPEN) == ["TSLA", "GOOGL"]


def test_should_start_a_new_quota_day_at_utc_midnight():
    ledger = Ledger()
    ledger.record_call(datetime(2026, 11, 24, 23, 59, tzinfo=UTC))
    ledger.roll_over(datetime(2026, 11, 25, 0, 1, tzinfo=UTC))
    assert ledger.calls_today == 0
