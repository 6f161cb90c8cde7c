"""Every answer class of the Alpha Vantage API, through the real client and HTTP against the simulator."""

import json
from datetime import date
from decimal import Decimal

import pytest
import requests

from market_pipeline.fetch.alphavantage import (
    AlphaVantageClient,
    DailyLimitReached,
    DemoKeyRejected,
    InvalidApiKey,
    InvalidCall,
    MalformedReply,
    PremiumOnly,
    RateLimited,
    ReplyMismatch,
    ServerError,
    classify_message,
    decode_reply,
    parse_dividends,
    parse_series,
    parse_splits,
)
from market_pipeline.simulator import server as sim
from tests.conftest import TEST_API_KEY
from tests.unit.helpers import RecordingObserver


def client_for(simulator, key=TEST_API_KEY, **kwargs) -> AlphaVantageClient:
    kwargs.setdefault("backoff_seconds", 0.01)
    return AlphaVantageClient(simulator.base_url, key, **kwargs)


def test_should_parse_intraday_bars_newest_first(simulator):
    reply = client_for(simulator).intraday("MSFT", "5min")
    assert reply.symbol == "MSFT"
    assert reply.time_zone == "US/Eastern"
    assert len(reply.rows) == 100
    timestamps = [timestamp for timestamp, _ in reply.rows]
    assert timestamps == sorted(timestamps, reverse=True)
    assert set(reply.rows[0][1]) == {"1. open", "2. high", "3. low", "4. close", "5. volume"}


def test_should_retry_throttling_then_succeed(simulator):
    simulator.simulator.options.per_second = 1
    observer = RecordingObserver()
    client = client_for(simulator, backoff_seconds=0.6, observer=observer)
    client.intraday("MSFT")
    reply = client.intraday("TSLA")  # second call within the same second: throttled, then retried
    assert reply.symbol == "TSLA"
    assert len(observer.sent) >= 3, "the throttled attempt must be counted as a request"
    assert [o.outcome for o in observer.outcomes][1:] == ["rate_limited"] * (len(observer.sent) - 2) + ["ok"]
    assert observer.outcomes[-1].bars == 100 and observer.outcomes[-1].http_status == 200


def test_should_give_up_on_throttling_after_bounded_attempts(simulator):
    simulator.simulator.options.per_minute = 1
    client = client_for(simulator, max_attempts=3)
    client.intraday("MSFT")
    with pytest.raises(RateLimited, match="per minute"):
        client.intraday("MSFT")
    assert simulator.simulator.requests_served == 4


def test_should_report_daily_limit_without_retrying(simulator):
    simulator.simulator.options.per_day = 1
    observer = RecordingObserver()
    client = client_for(simulator, observer=observer)
    client.intraday("MSFT")
    with pytest.raises(DailyLimitReached) as raised:
        client.intraday("MSFT")
    assert len(observer.sent) == 2
    assert observer.outcomes[-1].outcome == "daily_limit_reached"
    # The real message quotes the key back: it must not survive into our error.
    assert TEST_API_KEY not in str(raised.value)
    assert "***" in str(raised.value)


def test_should_reject_invalid_key(simulator):
    simulator.simulator.options.valid_keys = {"the-only-good-key"}
    with pytest.raises(InvalidApiKey):
        client_for(simulator).intraday("MSFT")


def test_should_reject_demo_key_outside_demo_symbols(simulator):
    with pytest.raises(DemoKeyRejected):
        client_for(simulator, key="demo").intraday("MSFT")
    assert client_for(simulator, key="demo").intraday("IBM").symbol == "IBM"


def test_should_name_premium_only_endpoint_and_parameter(simulator):
    simulator.simulator.options.premium_functions = {"TIME_SERIES_INTRADAY"}
    with pytest.raises(PremiumOnly, match="^TIME_SERIES_INTRADAY MSFT: .*premium endpoint"):
        client_for(simulator).intraday("MSFT")
    with pytest.raises(PremiumOnly, match="outputsize=full"):
        client_for(simulator).query("TIME_SERIES_DAILY", symbol="MSFT", outputsize="full")


def test_should_report_unknown_symbol_as_invalid_call(simulator):
    with pytest.raises(InvalidCall):
        client_for(simulator).intraday("NOSUCH")


@pytest.mark.parametrize(
    ("status", "content_type", "body", "error", "text"),
    [
        (200, "application/json", "", MalformedReply, "empty reply"),
        (200, "application/json", "{}", MalformedReply, "empty JSON"),
        (200, "application/json", '{"Meta Data": {"2. Symbol": "MS', MalformedReply, "truncated"),
        (200, "text/html", "<html><body>Bad gateway</body></html>", MalformedReply, "HTML"),
        (200, "application/x-download", "timestamp,open,high,low,close,volume\r\n", MalformedReply, "CSV"),
        (502, "text/html", "<html>502</html>", ServerError, "HTTP 502"),
        (404, "text/html", "<html>404</html>", MalformedReply, "HTTP 404"),
        (200, "application/json", '{"Something New": "we changed the API"}', MalformedReply, "unrecognised"),
        (200, "application/json", '{"Information": "Some brand new notice."}', MalformedReply, "unrecognised"),
    ],
)
def test_should_reject_what_is_not_api_json(status, content_type, body, error, text):
    with pytest.raises(error, match=text):
        decode_reply(status, content_type, body)


def test_should_classify_messages_by_key_and_words():
    assert isinstance(classify_message("Note", sim.MSG_PER_MINUTE.format(per_minute=5, per_day=500)), RateLimited)
    assert isinstance(classify_message("Information", sim.MSG_BURST.format(per_day=25)), RateLimited)
    assert isinstance(classify_message("Information", sim.MSG_DAILY_LIMIT.format(key="k", per_day=25)),
                      DailyLimitReached)
    assert isinstance(classify_message("Information", sim.MSG_PREMIUM_ENDPOINT), PremiumOnly)
    assert isinstance(classify_message("Information", sim.MSG_DEMO), DemoKeyRejected)
    assert isinstance(classify_message("Error Message", sim.MSG_INVALID_KEY), InvalidApiKey)
    assert isinstance(classify_message("Error Message", sim.MSG_INVALID_CALL.format(function="X")), InvalidCall)


def test_should_reject_reply_for_another_symbol_or_interval(simulator):
    payload = client_for(simulator).query("TIME_SERIES_INTRADAY", symbol="MSFT", interval="5min")
    with pytest.raises(ReplyMismatch, match="TSLA"):
        parse_series(payload, "TSLA", "5min")
    with pytest.raises(ReplyMismatch, match="15min"):
        parse_series(payload, "MSFT", "15min")


def test_should_retry_timeouts_and_hide_the_key(simulator):
    class TimingOut(requests.Session):
        def get(self, url, **kwargs):
            raise requests.ConnectTimeout(f"timed out: {url}?apikey={kwargs['params']['apikey']}")

    observer = RecordingObserver()
    client = client_for(simulator, session=TimingOut(), max_attempts=2, observer=observer)
    with pytest.raises(ServerError) as raised:
        client.intraday("MSFT")
    assert len(observer.sent) == 2
    assert [(o.outcome, o.http_status) for o in observer.outcomes] == [("server_error", None)] * 2
    assert TEST_API_KEY not in str(raised.value)


def test_simulator_csv_has_the_api_header(simulator):
    response = requests.get(simulator.base_url, params={
        "function": "TIME_SERIES_INTRADAY", "symbol": "MSFT", "interval": "5min",
        "apikey": TEST_API_KEY, "datatype": "csv"}, timeout=10)
    lines = response.text.splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume"
    assert len(lines) == 101
    assert json.loads(requests.get(simulator.base_url, params={
        "function": "TIME_SERIES_INTRADAY", "symbol": "MSFT", "interval": "5min",
        "apikey": TEST_API_KEY}, timeout=10).text)["Meta Data"]["6. Time Zone"] == "US/Eastern"


# Alpha Vantage's documented SPLITS and DIVIDENDS replies (https://www.alphavantage.co/documentation/#splits,
# #dividends): the symbol and a list of rows, amounts and factors as strings, unknown dates as "None".
SPLITS_REPLY = {"symbol": "TSLA", "data": [{"effective_date": "2022-08-25", "split_factor": "3.0000"},
                                           {"effective_date": "2020-08-31", "split_factor": "5.0000"}]}
DIVIDENDS_REPLY = {"symbol": "IBM", "data": [
    {"ex_dividend_date": "2024-11-12", "declaration_date": "2024-10-29", "record_date": "2024-11-12",
     "payment_date": "2024-12-10", "amount": "1.67"},
    {"ex_dividend_date": "1962-05-01", "declaration_date": "None", "record_date": "None",
     "payment_date": "None", "amount": "0.0015"}]}


def test_should_parse_the_documented_splits_and_dividends_replies_oldest_first():
    assert [(s.symbol, s.effective_date, s.split_factor) for s in parse_splits(SPLITS_REPLY, "tsla")] == [
        ("TSLA", date(2020, 8, 31), Decimal("5")), ("TSLA", date(2022, 8, 25), Decimal("3"))]
    oldest, newest = parse_dividends(DIVIDENDS_REPLY, "IBM")
    assert (oldest.ex_dividend_date, oldest.amount, oldest.declaration_date) == (date(1962, 5, 1), Decimal("0.0015"),
                                                                                 None)
    assert (newest.payment_date, newest.amount) == (date(2024, 12, 10), Decimal("1.67"))
    assert parse_splits({"symbol": "MSFT", "data": []}, "MSFT") == [], "no split is an answer, not an error"


def test_should_fetch_splits_and_dividends_through_the_observer(simulator):
    observer = RecordingObserver()
    client = client_for(simulator, observer=observer)
    assert [s.effective_date for s in client.splits("TSLA")] == [date(2020, 8, 31), date(2022, 8, 25)]
    assert all(d.amount > 0 for d in client.dividends("MSFT"))
    assert [(function, params["symbol"]) for function, params in observer.sent] == [("SPLITS", "TSLA"),
                                                                                    ("DIVIDENDS", "MSFT")]
    assert [(o.function, o.outcome) for o in observer.outcomes] == [("SPLITS", "ok"), ("DIVIDENDS", "ok")]


@pytest.mark.parametrize("function", ["splits", "dividends"])
def test_corporate_action_replies_fail_in_the_same_classes_as_bars(simulator, function):
    options = simulator.simulator.options
    options.throttle_next = 10
    with pytest.raises(RateLimited):
        getattr(client_for(simulator, max_attempts=2), function)("TSLA")
    options.throttle_next = 0
    with pytest.raises(InvalidApiKey):
        getattr(client_for(simulator, key=""), function)("TSLA")
    with pytest.raises(InvalidCall):
        getattr(client_for(simulator), function)("NOSUCH")
    options.per_day = 0
    with pytest.raises(DailyLimitReached):
        getattr(client_for(simulator), function)("TSLA")


@pytest.mark.parametrize(
    ("parse", "payload", "error", "text"),
    [
        (parse_splits, {"symbol": "MSFT", "data": []}, ReplyMismatch, "reply is for MSFT"),
        (parse_splits, {"symbol": "TSLA", "information": "x"}, MalformedReply, "no 'data' list"),
        (parse_splits, {"symbol": "TSLA", "data": [{"effective_date": "31/08/2020", "split_factor": "5"}]},
         MalformedReply, "not a date"),
        (parse_splits, {"symbol": "TSLA", "data": [{"effective_date": "2020-08-31", "split_factor": "0"}]},
         MalformedReply, "out of range"),
        (parse_dividends, {"symbol": "TSLA", "data": [{"ex_dividend_date": "2020-08-31", "amount": "n/a"}]},
         MalformedReply, "not a number"),
        (parse_dividends, {"symbol": "TSLA", "data": ["2020-08-31"]}, MalformedReply, "no 'data' list"),
    ],
)
def test_should_reject_corporate_action_replies_that_are_not_the_documented_shape(parse, payload, error, text):
    with pytest.raises(error, match=text):
        parse(payload, "TSLA")
