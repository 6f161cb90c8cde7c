"""Alpha Vantage client: one HTTP call in, typed data or one specific error out.

Called by the fetch task (`market_pipeline.fetch.live`) and the command line.  The
API answers almost every failure with HTTP 200 and a single-key JSON object
("Information", "Note", "Error Message"), so every reply is classified before
it is trusted; an unrecognised single-key reply is an error, never data.

The API key is a query parameter, so anything that can echo the URL (requests'
exceptions, our own messages) goes through `_redact` first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, get_args

import requests
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from market_pipeline.trading_calendar import Entitlement

Interval = Literal["1min", "5min", "15min", "30min", "60min"]
OutputSize = Literal["compact", "full"]
INTRADAY_INTERVALS = get_args(Interval)
OUTPUT_SIZES = get_args(OutputSize)
REDACTED = "***"


class AlphaVantageError(Exception):
    """Base of every failure the client reports; `retryable` ones are retried in the call."""

    retryable = False


class RateLimited(AlphaVantageError):
    """Per-second or per-minute throttling: waiting and retrying helps."""

    retryable = True


class ServerError(AlphaVantageError):
    """HTTP 5xx, a timeout or a dropped connection: retried with backoff."""

    retryable = True


class DailyLimitReached(AlphaVantageError):
    """The day's request budget is spent: no call helps before the reset."""


class InvalidApiKey(AlphaVantageError):
    """The key is invalid or missing: nothing but a new key helps."""


class DemoKeyRejected(AlphaVantageError):
    """The `demo` key was used for something other than the demo symbols."""


class PremiumOnly(AlphaVantageError):
    """The endpoint or a parameter needs a premium plan."""


class InvalidCall(AlphaVantageError):
    """The API rejected the call; for a well-formed call this means an unknown symbol."""


class MalformedReply(AlphaVantageError):
    """Not the JSON the API documents: empty, truncated, HTML, CSV, or an unknown message."""


class ReplyMismatch(AlphaVantageError):
    """The reply's Meta Data names another symbol or interval than was asked for."""


def outcome_name(error: AlphaVantageError | None) -> str:
    """The API call log's outcome class: "ok", or the error's class in snake case ("rate_limited")."""
    if error is None:
        return "ok"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


@dataclass(frozen=True)
class RequestOutcome:
    """One HTTP request as the API call log records it: never the key, never the reply's text."""

    function: str
    symbol: str | None
    month: str | None
    outcome: str
    http_status: int | None
    bars: int | None


class RequestObserver(Protocol):
    """Told of every HTTP request, retries included: a quota ledger counts what was really spent.
    `before_request` may raise a non-retryable AlphaVantageError to stop a request going out."""

    def before_request(self, function: str, params: dict[str, str]) -> None: ...

    def after_request(self, outcome: RequestOutcome) -> None: ...


@dataclass(frozen=True)
class SeriesReply:
    """A parsed time series: raw rows, newest first, values still as the API's strings."""

    symbol: str
    interval: str
    time_zone: str
    last_refreshed: str
    rows: list[tuple[str, dict[str, str]]]


@dataclass(frozen=True)
class Split:
    """A SPLITS row: from `effective_date` on, one old share is `split_factor` new ones."""

    symbol: str
    effective_date: date
    split_factor: Decimal


@dataclass(frozen=True)
class Dividend:
    """A DIVIDENDS row: `amount` per share as declared; the price drops by it on the ex-date."""

    symbol: str
    ex_dividend_date: date
    amount: Decimal
    declaration_date: date | None
    record_date: date | None
    payment_date: date | None


def classify_message(key: str, text: str) -> AlphaVantageError:
    """Map a single-key reply to its error. Matching is on a few stable words, not whole sentences."""
    lowered = text.lower()
    if key == "Error Message":
        if "apikey" in lowered or "api key" in lowered:
            return InvalidApiKey(text)
        return InvalidCall(text)
    if key == "Note":
        return RateLimited(text)
    if key == "Information":
        if "demo" in lowered and "api key" in lowered:
            return DemoKeyRejected(text)
        # The burst message also quotes the daily limit, so it is checked first.
        if "spreading out" in lowered or "per second" in lowered or "sparingly" in lowered:
            return RateLimited(text)
        # Every limit message advertises "premium plans"; only these name a premium endpoint or value.
        if "premium endpoint" in lowered or "premium feature" in lowered:
            return PremiumOnly(text)
        if "per day" in lowered or "daily rate limit" in lowered:
            return DailyLimitReached(text)
    return MalformedReply(f"unrecognised {key!r} reply: {text}")


def decode_reply(status_code: int, content_type: str, body: str) -> dict[str, Any]:
    """Turn an HTTP reply into the API's JSON object, or raise the error it stands for."""
    if status_code >= 500:
        raise ServerError(f"HTTP {status_code} from Alpha Vantage")
    if status_code >= 400:
        raise MalformedReply(f"HTTP {status_code} from Alpha Vantage: {body[:200]!r}")
    stripped = body.lstrip()
    if not stripped:
        raise MalformedReply("empty reply body")
    if stripped.startswith("<") or "html" in content_type.lower():
        raise MalformedReply(f"HTML page instead of JSON: {stripped[:120]!r}")
    if not stripped.startswith("{"):
        # The API's CSV starts with a header row such as "timestamp,open,...".
        raise MalformedReply(f"not JSON (CSV or text?): {stripped[:80]!r}")
    try:
        payload = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise MalformedReply(f"truncated or invalid JSON: {exc}") from None
    if not isinstance(payload, dict) or not payload:
        raise MalformedReply("empty JSON object")
    if len(payload) == 1:  # a series has two keys: a one-key reply is a message
        [(key, value)] = payload.items()
        raise classify_message(key, str(value))
    return payload


def parse_series(payload: dict[str, Any], symbol: str, interval: str) -> SeriesReply:
    """Read a TIME_SERIES_INTRADAY reply; `interval` is e.g. "5min"."""
    meta = payload.get("Meta Data")
    if not isinstance(meta, dict):
        raise MalformedReply(f"no 'Meta Data' object; keys {sorted(payload)}")
    meta_symbol = _meta_value(meta, "Symbol")
    if meta_symbol is None or meta_symbol.upper() != symbol.upper():
        raise ReplyMismatch(f"asked for {symbol}, reply is for {meta_symbol}")
    meta_interval = _meta_value(meta, "Interval")
    if meta_interval is not None and meta_interval != interval:
        raise ReplyMismatch(f"asked for {interval} bars, reply has {meta_interval}")
    series_key = f"Time Series ({interval})"
    series = payload.get(series_key)
    if not isinstance(series, dict):
        raise MalformedReply(f"no {series_key!r} object; keys {sorted(payload)}")
    time_zone = _meta_value(meta, "Time Zone")
    if not time_zone:
        raise MalformedReply("Meta Data has no Time Zone")
    rows = []
    for timestamp, values in series.items():
        if not isinstance(values, dict):
            raise MalformedReply(f"bar {timestamp!r} is not an object")
        rows.append((timestamp, values))
    return SeriesReply(
        symbol=symbol.upper(),
        interval=interval,
        time_zone=time_zone,
        last_refreshed=_meta_value(meta, "Last Refreshed") or "",
        rows=rows,
    )


def parse_actions(payload: dict[str, Any], symbol: str, function: str) -> list[dict[str, Any]]:
    """The rows of a SPLITS or DIVIDENDS reply, `{"symbol": "TSLA", "data": [{...}, ...]}`."""
    replied = payload.get("symbol")
    if not isinstance(replied, str) or replied.upper() != symbol.upper():
        raise ReplyMismatch(f"asked for {symbol}'s {function}, reply is for {replied}")
    rows = payload.get("data")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise MalformedReply(f"{function} reply has no 'data' list of objects; keys {sorted(payload)}")
    return rows


def parse_splits(payload: dict[str, Any], symbol: str) -> list[Split]:
    """Read a SPLITS reply, oldest first; every row must have a date and a positive factor."""
    splits = [
        Split(symbol.upper(), _date(row, "effective_date", index), _positive(row, "split_factor", index))
        for index, row in enumerate(parse_actions(payload, symbol, "SPLITS"))
    ]
    return sorted(splits, key=lambda split: split.effective_date)


def parse_dividends(payload: dict[str, Any], symbol: str) -> list[Dividend]:
    """Read a DIVIDENDS reply, oldest first; the API writes a date it does not know as "None"."""
    dividends = [
        Dividend(symbol.upper(), _date(row, "ex_dividend_date", index), _positive(row, "amount", index, zero=True),
                 *(_date(row, name, index, optional=True)
                   for name in ("declaration_date", "record_date", "payment_date")))
        for index, row in enumerate(parse_actions(payload, symbol, "DIVIDENDS"))
    ]
    return sorted(dividends, key=lambda dividend: dividend.ex_dividend_date)


def _date(row: dict[str, Any], name: str, index: int, *, optional: bool = False) -> date | None:
    value = row.get(name)
    if optional and value in (None, "None", ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MalformedReply(f"row {index}: {name} {value!r} is not a date") from None


def _positive(row: dict[str, Any], name: str, index: int, *, zero: bool = False) -> Decimal:
    try:
        value = Decimal(str(row.get(name)))
    except InvalidOperation:
        raise MalformedReply(f"row {index}: {name} {row.get(name)!r} is not a number") from None
    if not value.is_finite() or value < 0 or (value == 0 and not zero):
        raise MalformedReply(f"row {index}: {name} {value} is out of range")
    return value


def _meta_value(meta: dict[str, Any], name: str) -> str | None:
    """Meta Data keys carry a varying number prefix ("2. Symbol", "6. Time Zone")."""
    for key, value in meta.items():
        if key.split(". ", 1)[-1] == name:
            return str(value)
    return None


def _redact(text: str, api_key: str) -> str:
    return text.replace(api_key, REDACTED) if api_key else text


class AlphaVantageClient:
    """Calls the API at `base_url` with `api_key`; `observer` is told of every HTTP request made,
    retries included.  `entitlement` other than "none" is sent as the API's `entitlement`
    parameter (premium plans: realtime or 15-minute delayed US data)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session: requests.Session | None = None,
        timeout_seconds: float = 30.0,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        entitlement: Entitlement = "none",
        observer: RequestObserver | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("Alpha Vantage base URL is empty: set the connection's host")
        self.base_url = base_url
        self._api_key = api_key
        self._session = session or requests.Session()
        self._timeout = timeout_seconds
        self.entitlement = entitlement
        self.observer = observer
        self._retrying = retry(
            retry=retry_if_exception(lambda exc: isinstance(exc, AlphaVantageError) and exc.retryable),
            stop=stop_after_attempt(max_attempts),
            wait=wait_exponential(multiplier=backoff_seconds, max=30 * backoff_seconds),
            reraise=True,
        )

    def query(self, function: str, **params: str) -> dict[str, Any]:
        """One API function call, retried on throttling and server errors; returns the JSON object."""
        return self._retrying(self._query_once)(function, params)

    def intraday(
        self,
        symbol: str,
        interval: str = "5min",
        *,
        outputsize: str = "compact",
        month: str | None = None,
        adjusted: bool | None = None,
        extended_hours: bool | None = None,
    ) -> SeriesReply:
        if interval not in INTRADAY_INTERVALS:
            raise ValueError(f"interval must be one of {INTRADAY_INTERVALS}, not {interval!r}")
        if outputsize not in OUTPUT_SIZES:
            raise ValueError(f"outputsize must be one of {OUTPUT_SIZES}, not {outputsize!r}")
        params = {"symbol": symbol, "interval": interval, "outputsize": outputsize}
        if month is not None:
            params["month"] = month
        if adjusted is not None:
            params["adjusted"] = str(adjusted).lower()
        if extended_hours is not None:
            params["extended_hours"] = str(extended_hours).lower()
        return parse_series(self.query("TIME_SERIES_INTRADAY", **params), symbol, interval)

    def splits(self, symbol: str) -> list[Split]:
        return parse_splits(self.query("SPLITS", symbol=symbol), symbol)

    def dividends(self, symbol: str) -> list[Dividend]:
        return parse_dividends(self.query("DIVIDENDS", symbol=symbol), symbol)

    def _query_once(self, function: str, params: dict[str, str]) -> dict[str, Any]:
        if self.entitlement != "none":
            params = {**params, "entitlement": self.entitlement}
        if self.observer is not None:
            self.observer.before_request(function, params)
        status: int | None = None
        payload: dict[str, Any] | None = None
        error: AlphaVantageError | None = None
        try:
            response = self._get({"function": function, **params, "datatype": "json", "apikey": self._api_key})
            status = response.status_code
            payload = decode_reply(status, response.headers.get("Content-Type", ""), response.text)
            return payload
        except AlphaVantageError as exc:
            # Say which call failed: the API's own texts rarely name the function or symbol.
            what = " ".join(filter(None, (function, params.get("symbol"))))
            error = type(exc)(f"{what}: {_redact(str(exc), self._api_key)}")
            raise error from None
        finally:
            if self.observer is not None:
                self.observer.after_request(RequestOutcome(
                    function=function, symbol=params.get("symbol"), month=params.get("month"),
                    outcome=outcome_name(error), http_status=status, bars=_bars_in(payload),
                ))

    def _get(self, query: dict[str, str]) -> requests.Response:
        try:
            return self._session.get(self.base_url, params=query, timeout=self._timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ServerError(f"{type(exc).__name__}: {exc}") from None
        except requests.RequestException as exc:
            raise MalformedReply(f"{type(exc).__name__}: {exc}") from None


def _bars_in(payload: dict[str, Any] | None) -> int | None:
    """How many bars a time series reply holds; None for anything else."""
    for key, value in (payload or {}).items():
        if key.startswith("Time Series") and isinstance(value, dict):
            return len(value)
    return None
