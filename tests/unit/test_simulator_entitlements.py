"""The simulator serves each entitlement what the real API documents: end-of-day sessions by
default, 15-minute delayed or realtime bars only to keys whose plan includes them."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from market_pipeline.fetch.alphavantage import AlphaVantageClient, PremiumOnly
from market_pipeline.trading_calendar import EASTERN
from tests.conftest import TEST_API_KEY

TUESDAY_1100 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 11:00 US/Eastern


def newest_bar(simulator, entitlement: str, now: datetime) -> datetime:
    simulator.simulator.clock.set(now)
    client = AlphaVantageClient(simulator.base_url, TEST_API_KEY, entitlement=entitlement)
    reply = client.intraday("MSFT", "5min")
    return datetime.strptime(reply.rows[0][0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=EASTERN)


def test_without_entitlement_the_key_sees_the_last_published_session(simulator):
    monday_last_bar = datetime(2026, 11, 23, 19, 55, tzinfo=EASTERN)
    assert newest_bar(simulator, "none", TUESDAY_1100) == monday_last_bar
    tuesday_2029 = datetime(2026, 11, 24, 20, 29, tzinfo=EASTERN)
    assert newest_bar(simulator, "none", tuesday_2029) == monday_last_bar, "not yet published"
    assert newest_bar(simulator, "none", tuesday_2029 + timedelta(minutes=1)) == datetime(
        2026, 11, 24, 19, 55, tzinfo=EASTERN)


def test_delayed_and_realtime_keys_see_bars_fifteen_minutes_old_and_just_ended(simulator):
    assert newest_bar(simulator, "realtime", TUESDAY_1100) == datetime(2026, 11, 24, 10, 55, tzinfo=EASTERN)
    assert newest_bar(simulator, "delayed", TUESDAY_1100) == datetime(2026, 11, 24, 10, 40, tzinfo=EASTERN)


def test_an_entitlement_the_key_lacks_gets_the_premium_answer(simulator):
    simulator.simulator.options.key_entitlement = "delayed"
    assert newest_bar(simulator, "delayed", TUESDAY_1100)
    with pytest.raises(PremiumOnly, match="entitlement=realtime"):
        newest_bar(simulator, "realtime", TUESDAY_1100)
    simulator.simulator.options.key_entitlement = "none"
    with pytest.raises(PremiumOnly, match="entitlement=delayed"):
        newest_bar(simulator, "delayed", TUESDAY_1100)


def test_delayed_quote_is_keyed_as_the_api_keys_it(simulator):
    simulator.simulator.clock.set(TUESDAY_1100)

    def quote(**entitlement: str) -> dict:
        _, body = simulator.simulator.answer({"function": "GLOBAL_QUOTE", "symbol": "MSFT", "apikey": TEST_API_KEY,
                                              **entitlement})
        return json.loads(body)

    delayed = quote(entitlement="delayed")
    assert list(delayed) == ["Global Quote - DATA DELAYED BY 15 MINUTES"]
    assert delayed["Global Quote - DATA DELAYED BY 15 MINUTES"]["07. latest trading day"] == "2026-11-24"
    assert quote()["Global Quote"]["07. latest trading day"] == (
        "2026-11-23"), "without an entitlement: the last published session"


def test_full_output_without_entitlement_holds_whole_extended_sessions(simulator):
    simulator.simulator.clock.set(TUESDAY_1100)
    reply = AlphaVantageClient(simulator.base_url, TEST_API_KEY).intraday("MSFT", "5min", outputsize="full")
    monday = [stamp for stamp, _ in reply.rows if stamp.startswith("2026-11-23")]
    assert len(monday) == 192 and min(monday) == "2026-11-23 04:00:00" and max(monday) == "2026-11-23 19:55:00"
