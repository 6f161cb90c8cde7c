"""The watchdog's verdicts on a virtual clock: stale data during a session fails, a closed market,
a flagged symbol or a spent quota stay quiet, and end-of-day keys get until publication + grace."""

from datetime import UTC, datetime

import pytest

from market_pipeline.fetch.quota import Ledger
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.reporting.freshness import assess
from market_pipeline.trading_calendar import EASTERN


def eastern(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=EASTERN).astimezone(UTC)


def config(entitlement: str, per_day: int | None = None) -> PipelineConfig:
    return PipelineConfig(
        watchlist=["MSFT"], interval="5min", outputsize="compact", extended_hours=True, entitlement=entitlement,
        fetch_when_closed=False, quota=QuotaConfig(per_day=per_day, per_minute=75 if per_day is None else None,
                                                   per_second=5),
        max_offsets_per_trigger=10, freshness={"max_age_minutes": 30, "end_of_day_grace_minutes": 60})


def verdict(entitlement, newest, now, ledger=None, per_day=None):
    newest_bar = eastern(newest) if newest else None
    (result,) = assess(config(entitlement, per_day), ledger or Ledger(), {"MSFT": newest_bar}, eastern(now))
    return result.expected, result.stale, result.reason


@pytest.mark.parametrize("entitlement, newest, now, stale", [
    # Tue 2026-11-24, a full session. Realtime sees bars that ended; the newest visible at 11:02 is 10:55.
    ("realtime", "2026-11-24 10:50", "2026-11-24 11:02", False),
    ("realtime", "2026-11-24 10:20", "2026-11-24 11:02", True),    # 35 min behind
    ("realtime", "2026-11-24 10:30", "2026-11-24 11:02", False),   # 25 min behind
    ("realtime", None, "2026-11-24 11:02", True),                   # nothing loaded, 7 h into the session
    ("delayed", "2026-11-24 10:05", "2026-11-24 11:02", True),     # sees up to 10:45: 40 min behind
    ("delayed", "2026-11-24 10:15", "2026-11-24 11:02", False),    # 30 min behind: at the limit
    ("realtime", "2026-11-23 19:55", "2026-11-24 04:20", False),   # 20 min into the pre-market
])
def test_during_a_session_the_newest_bar_may_lag_the_visible_one_by_the_limit(entitlement, newest, now, stale):
    expected, is_stale, reason = verdict(entitlement, newest, now)
    assert expected and is_stale is stale, reason


@pytest.mark.parametrize("newest, now", [
    ("2026-11-24 12:00", "2026-11-24 21:00"),   # after the extended close
    ("2026-11-25 12:00", "2026-11-26 11:00"),   # Thanksgiving
    ("2026-11-27 12:00", "2026-11-28 12:00"),   # Saturday
    ("2026-11-27 12:00", "2026-11-27 17:30"),   # the half day's post-market ended at 17:00
    ("2026-11-20 12:00", "2026-11-24 03:30"),   # before the pre-market opens
])
def test_quiet_while_the_market_is_closed_to_the_key_however_old_the_bars(newest, now):
    expected, stale, reason = verdict("realtime", newest, now)
    assert (expected, stale, reason) == (False, False, "market closed to the key")


def test_a_delayed_key_sees_the_session_fifteen_minutes_late():
    assert verdict("delayed", "2026-11-23 19:55", "2026-11-24 04:10")[2] == "market closed to the key"
    assert verdict("delayed", "2026-11-24 19:00", "2026-11-24 20:10")[0], "20:10 shows bars up to 19:55"


def test_quiet_for_a_flagged_symbol_and_a_spent_quota():
    flagged = Ledger()
    flagged.symbol("MSFT").flagged = "Invalid API call"
    assert verdict("realtime", None, "2026-11-24 11:02", flagged) == (False, False, "flagged: Invalid API call")
    spent = Ledger(day=datetime(2026, 11, 24).date(), calls_today=25)
    assert verdict("realtime", None, "2026-11-24 11:02", spent, per_day=25) == (
        True, False, "quota spent until its reset")
    assert verdict("realtime", None, "2026-11-24 11:02", Ledger(), per_day=25)[1], "capped but not spent: stale"


@pytest.mark.parametrize("newest, now, stale, reason", [
    # Published at 20:30 with a 60-minute grace: due by 21:30.
    ("2026-11-23 19:55", "2026-11-24 21:00", False, "the 2026-11-24 session is due by 21:30 EST"),
    ("2026-11-23 19:55", "2026-11-24 21:40", True, "the 2026-11-24 session, published at 20:30 EST, is not loaded"),
    ("2026-11-24 19:55", "2026-11-24 21:40", False, "the 2026-11-24 session is loaded"),
    ("2026-11-24 19:55", "2026-11-25 12:00", False, "the 2026-11-24 session is loaded"),  # during the next session
    # The half day publishes at 17:30 (post-market to 17:00): due by 18:30.
    ("2026-11-25 19:55", "2026-11-27 18:40", True, "the 2026-11-27 session, published at 17:30 EST, is not loaded"),
    ("2026-11-27 16:55", "2026-11-28 10:00", False, "the 2026-11-27 session is loaded"),
])
def test_end_of_day_keys_must_have_the_published_session_by_publication_plus_grace(newest, now, stale, reason):
    expected, is_stale, why = verdict("none", newest, now)
    assert (is_stale, why) == (stale, reason)
