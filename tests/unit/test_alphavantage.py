"""Every answer class of the Alpha Vantage API, through the real client and HTTP against the simulator."""

import json

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
    parse_series,
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
