"""Validation between the API and Kafka: what becomes a bar, what goes to the dead-letter topic."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from market_pipeline.bars import validate_series
from market_pipeline.fetch.alphavantage import SeriesReply

FETCHED_AT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
GOOD_ROW = {"1. open": "100.0000", "2. high": "101.5000", "3. low": "99.5000", "4. close": "101.0000",
            "5. volume": "12345"}


def reply(rows, time_zone="US/Eastern") -> SeriesReply:
    return SeriesReply("MSFT", "5min", time_zone, "", list(rows))


def test_should_keep_prices_exact_and_convert_eastern_time_to_utc():
    [bar], rejected = validate_series(reply([("2026-11-24 09:30:00", GOOD_ROW)]), FETCHED_AT)
    assert rejected == []
    assert bar.bar_time == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # EST = UTC-5
    assert bar.open == Decimal("100.0000") and bar.volume == 12345
    message = json.loads(bar.to_message())
    assert message["bar_time"] == "2026-11-24T14:30:00Z"
    assert message["high"] == "101.5000"


def test_should_apply_the_offset_of_each_side_of_a_dst_change():
    # 2026-03-08: US clocks spring forward; Friday is EST (UTC-5), Monday EDT (UTC-4).
    rows = [("2026-03-06 09:30:00", GOOD_ROW), ("2026-03-09 09:30:00", GOOD_ROW)]
    bars, _ = validate_series(reply(rows), FETCHED_AT)
    assert [bar.bar_time.hour for bar in bars] == [14, 13]


def test_should_return_bars_oldest_first():
    rows = [("2026-11-24 09:40:00", GOOD_ROW), ("2026-11-24 09:35:00", GOOD_ROW)]
    bars, _ = validate_series(reply(rows), FETCHED_AT)
    assert [bar.bar_time.minute for bar in bars] == [35, 40]


def test_should_leave_out_rows_at_or_before_the_watermark_but_never_a_malformed_timestamp():
    broken = {**GOOD_ROW, "5. volume": "-1"}
    rows = [("2026-11-24 09:40:00", GOOD_ROW), ("2026-11-24 09:35:00", broken), ("2026-11-24 09:30:00", GOOD_ROW),
            ("2026-11-24 09:20", GOOD_ROW), ("2026-02-30 09:00:00", GOOD_ROW)]
    watermark = datetime(2026, 11, 24, 14, 35, tzinfo=UTC)  # 09:35 US/Eastern, already published
    bars, rejected = validate_series(reply(rows), FETCHED_AT, newer_than=watermark)
    assert [bar.bar_time.minute for bar in bars] == [40]
    assert sorted(row.raw["timestamp"] for row in rejected) == ["2026-02-30 09:00:00", "2026-11-24 09:20"], (
        "the broken 09:35 row was dead-lettered when first seen; malformed timestamps are always rejected")


def test_should_reject_each_broken_rule_with_its_reason():
    cases = {
        "high below close": ({**GOOD_ROW, "2. high": "100.5000"}, "high"),
        "low above open": ({**GOOD_ROW, "3. low": "100.5000"}, "low"),
        "non-positive low": ({**GOOD_ROW, "1. open": "0.5", "3. low": "0"}, "low"),
        "text price": ({**GOOD_ROW, "4. close": "n/a"}, "close"),
        "infinite price": ({**GOOD_ROW, "2. high": "Infinity"}, "high"),
        "missing field": ({k: v for k, v in GOOD_ROW.items() if k != "5. volume"}, "volume"),
        "negative volume": ({**GOOD_ROW, "5. volume": "-1"}, "volume"),
        "fractional volume": ({**GOOD_ROW, "5. volume": "12.5"}, "volume"),
    }
    for name, (row, field) in cases.items():
        bars, [rejected] = validate_series(reply([("2026-11-24 09:30:00", row)]), FETCHED_AT)
        assert bars == [], name
        assert field in rejected.reason, f"{name}: {rejected.reason}"
        assert rejected.raw["timestamp"] == "2026-11-24 09:30:00"
        assert json.loads(rejected.to_message())["raw"]["4. close"] == row.get("4. close")


def test_should_reject_bad_timestamps_and_unknown_time_zones():
    _, [bad_time] = validate_series(reply([("24/11/2026 09:30", GOOD_ROW)]), FETCHED_AT)
    assert "timestamp" in bad_time.reason
    bars, rejected = validate_series(reply([("2026-11-24 09:30:00", GOOD_ROW)], "Mars/Olympus"), FETCHED_AT)
    assert bars == [] and "time zone" in rejected[0].reason


values = st.one_of(
    st.none(), st.text(max_size=8), st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str), st.sampled_from(["", "NaN", "-0", "1e400", "12.5"]),
)
rows = st.fixed_dictionaries({}, optional={
    "1. open": values, "2. high": values, "3. low": values, "4. close": values, "5. volume": values,
    "6. extra": values,
})
timestamps = st.one_of(st.text(max_size=20), st.just("2026-11-24 09:30:00"), st.just("2026-11-24T09:30:00"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(timestamps, rows), max_size=6))
def test_property_no_malformed_row_ever_becomes_a_bar(raw_rows):
    bars, rejected = validate_series(reply(raw_rows), FETCHED_AT)
    assert len(bars) + len(rejected) == len(raw_rows), "every row is either a bar or kept with a reason"
    for bar in bars:
        assert bar.low > 0 and bar.volume >= 0
        assert bar.high >= max(bar.open, bar.close) and bar.low <= min(bar.open, bar.close)
        assert all(value.is_finite() for value in (bar.open, bar.high, bar.low, bar.close))
    for row in rejected:
        assert row.reason


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10))
meta = st.fixed_dictionaries({}, optional={
    "2. Symbol": st.sampled_from(["MSFT", "msft", "TSLA", ""]), "4. Interval": st.sampled_from(["5min", "1min"]),
    "6. Time Zone": st.sampled_from(["US/Eastern", "UTC", "", "Nowhere/Land"]),
})
payloads = st.fixed_dictionaries({}, optional={
    "Meta Data": st.one_of(meta, json_leaf),
    "Time Series (5min)": st.one_of(st.dictionaries(timestamps, st.one_of(rows, json_leaf), max_size=4), json_leaf),
    "Information": st.text(max_size=20),
})


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_property_no_malformed_reply_puts_an_invalid_bar_on_the_main_topic(payload):
    from market_pipeline.bars import Bar
    from market_pipeline.fetch.alphavantage import AlphaVantageError, parse_series
    from market_pipeline.fetch.live import messages_for
    from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC

    try:
        series = parse_series(payload, "MSFT", "5min")
    except AlphaVantageError:
        return  # rejected whole: nothing is published
    bars, rejected = validate_series(series, FETCHED_AT)
    for message in messages_for(bars, rejected, BARS_TOPIC, DEAD_LETTER_TOPIC):
        if message.topic == BARS_TOPIC:
            bar = Bar.model_validate_json(message.value)  # re-validates every rule
            assert bar.symbol == "MSFT" and bar.interval == "5min"
