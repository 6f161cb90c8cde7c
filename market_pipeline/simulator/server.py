"""A local stand-in for the Alpha Vantage API (this machine has no internet).

Answers GET /query like https://www.alphavantage.co/query: TIME_SERIES_INTRADAY (adjusted for
splits and dividends as of the simulated clock unless `adjusted=false`), TIME_SERIES_DAILY and
GLOBAL_QUOTE in JSON or CSV, SPLITS and DIVIDENDS in JSON, with the real API's keys,
US/Eastern timestamps and its failure replies (HTTP 200 and one key), including
per-second, per-minute and per-day limits counted per key.  Switches turn on an
invalid key, premium-only answers and unknown symbols, so every reply class the
client handles can be produced on demand.  Entitlements follow
`market_pipeline.trading_calendar`: without the `entitlement` parameter a key
sees sessions only once published (20:30 US/Eastern); `delayed` and `realtime`
need a key whose plan includes them (`key_entitlement`), or get the API's
premium-feature answer.  Time comes from a `SimClock`, which
can run faster than real time so that a trading day passes in seconds.

Started by `bin/stack start` (`python -m market_pipeline.simulator`) and, on a
free port, by the tests.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time as wall
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from market_pipeline.simulator import market
from market_pipeline.trading_calendar import ENTITLEMENTS, Entitlement, data_horizon

DEMO_KEY = "demo"
DEMO_SYMBOLS = {"IBM"}
DELAYED_QUOTE_KEY = "Global Quote - DATA DELAYED BY 15 MINUTES"
PREMIUM_URL = "https://www.alphavantage.co/premium/"

MSG_DAILY_LIMIT = (
    "We have detected your API key as {key} and our standard API rate limit is {per_day} requests per day. "
    f"Please subscribe to any of the premium plans at {PREMIUM_URL} to instantly remove all daily rate limits."
)
MSG_BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly "
    f"(1 request per second). You may subscribe to any of the premium plans at {PREMIUM_URL} to lift the free "
    "key rate limit ({per_day} requests per day), raise the per-minute limit to higher levels, and completely "
    "remove all daily rate limits."
)
MSG_PER_MINUTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is {per_minute} calls per minute and "
    f"{{per_day}} calls per day. Please visit {PREMIUM_URL} if you would like to target a higher API call frequency."
)
MSG_INVALID_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
MSG_INVALID_CALL = (
    "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) "
    "for {function}."
)
MSG_PREMIUM_ENDPOINT = (
    f"Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium "
    f"plans at {PREMIUM_URL} to instantly unlock all premium endpoints"
)
MSG_PREMIUM_PARAMETER = (
    "Thank you for using Alpha Vantage! The {parameter} parameter value is a premium feature for the "
    f"{{function}} endpoint. You may subscribe to any of the premium plans at {PREMIUM_URL} to instantly "
    "unlock all premium features of this endpoint."
)
MSG_DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key at "
    "(https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than "
    "20 seconds."
)


class SimClock:
    """Simulated time: starts at `start` (default: now) and runs `speed` times faster than the wall."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self.speed = speed
        self.set(start or datetime.now(UTC))

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._anchor = moment.astimezone(UTC)
            self._anchor_wall = wall.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def now(self) -> datetime:
        with self._lock:
            return self._anchor + timedelta(seconds=(wall.monotonic() - self._anchor_wall) * self.speed)


@dataclass
class SimulatorOptions:
    """Limits (None = unlimited) and switches of one simulator instance."""

    per_second: int | None = 1
    per_minute: int | None = None
    per_day: int | None = 25
    valid_keys: set[str] | None = None  # None: any non-empty key is valid
    premium_functions: set[str] = field(default_factory=set)
    unknown_symbols: set[str] = field(default_factory=set)  # known symbols answered as unknown
    # What every key's plan includes: "none" (free keys), "delayed" or "realtime" (premium plans).
    key_entitlement: Entitlement = "none"
    # Answer this many requests with the per-minute throttle message (the legacy "Note") first.
    throttle_next: int = 0


class _Usage:
    """Per-key request times on the simulated clock, for the three limits."""

    def __init__(self) -> None:
        self.recent: deque[datetime] = deque()
        self.day: str = ""
        self.today = 0


class AlphaVantageSimulator:
    """The API's behaviour, independent of HTTP: `answer(params) -> (content_type, body)`."""

    def __init__(self, clock: SimClock | None = None, options: SimulatorOptions | None = None) -> None:
        self.clock = clock or SimClock()
        self.options = options or SimulatorOptions()
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()
        self.requests_served = 0
        self.throttled_answers = 0

    def answer(self, params: dict[str, str]) -> tuple[str, str]:
        with self._lock:
            self.requests_served += 1
            reply = self._answer(params)
        if isinstance(reply, dict):
            return "application/json", json.dumps(reply, indent=4)
        return "application/x-download", reply

    def _answer(self, params: dict[str, str]) -> dict | str:
        function = params.get("function", "")
        key = params.get("apikey", "")
        if not key or (self.options.valid_keys is not None and key not in self.options.valid_keys
                       and key != DEMO_KEY):
            return {"Error Message": MSG_INVALID_KEY}
        symbol = params.get("symbol", "").upper()
        if key == DEMO_KEY and symbol not in DEMO_SYMBOLS:
            return {"Information": MSG_DEMO}
        limited = self._limit(key)
        if limited is not None:
            self.throttled_answers += 1
            return limited
        if function in self.options.premium_functions:
            return {"Information": MSG_PREMIUM_ENDPOINT}
        entitlement = params.get("entitlement", "none")
        if entitlement not in ENTITLEMENTS[1:] and "entitlement" in params:
            return {"Error Message": MSG_INVALID_CALL.format(function=function or "the requested function")}
        if ENTITLEMENTS.index(entitlement) > ENTITLEMENTS.index(self.options.key_entitlement):
            return {"Information": MSG_PREMIUM_PARAMETER.format(parameter=f"entitlement={entitlement}",
                                                               function=function)}
        handler = {
            "TIME_SERIES_INTRADAY": self._intraday,
            "TIME_SERIES_DAILY": self._daily,
            "GLOBAL_QUOTE": self._global_quote,
            "SPLITS": self._splits,
            "DIVIDENDS": self._dividends,
        }.get(function)
        invalid = {"Error Message": MSG_INVALID_CALL.format(function=function or "the requested function")}
        if handler is None:
            return invalid
        if function == "GLOBAL_QUOTE" and not market.is_known(symbol):
            return {"Global Quote": {}}
        if not market.is_known(symbol) or symbol in self.options.unknown_symbols:
            return invalid
        return handler(symbol, params, invalid, data_horizon(self.clock.now(), entitlement))

    def _limit(self, key: str) -> dict | None:
        """Count this request against the key's limits; the reply the API gives when one is exceeded."""
        now = self.clock.now()
        usage = self._usage.setdefault(key, _Usage())
        day = now.date().isoformat()
        if usage.day != day:
            usage.day, usage.today = day, 0
        while usage.recent and now - usage.recent[0] >= timedelta(minutes=1):
            usage.recent.popleft()
        per_day = self.options.per_day
        if per_day is not None and usage.today >= per_day:
            return {"Information": MSG_DAILY_LIMIT.format(key=key, per_day=per_day)}
        last_second = sum(1 for moment in usage.recent if now - moment < timedelta(seconds=1))
        if self.options.per_second is not None and last_second >= self.options.per_second:
            return {"Information": MSG_BURST.format(per_day=per_day or "unlimited")}
        if self.options.throttle_next > 0:
            self.options.throttle_next -= 1
            return {"Note": MSG_PER_MINUTE.format(per_minute=self.options.per_minute or 5, per_day=per_day)}
        if self.options.per_minute is not None and len(usage.recent) >= self.options.per_minute:
            return {"Note": MSG_PER_MINUTE.format(per_minute=self.options.per_minute, per_day=per_day)}
        usage.recent.append(now)
        usage.today += 1
        return None

    def _intraday(self, symbol: str, params: dict[str, str], invalid: dict, horizon: datetime) -> dict | str:
        interval = params.get("interval", "")
        outputsize = params.get("outputsize", "compact")
        month = params.get("month")
        if interval not in market.INTERVAL_MINUTES or outputsize not in ("compact", "full"):
            return invalid
        if month is not None and (len(month) != 7 or month[4] != "-"
                                  or not market.month_available(symbol, month, self.clock.now())):
            # The API answers a month before its history, before the listing or in the future so.
            return invalid
        extended = params.get("extended_hours", "true").lower() != "false"
        bars = market.intraday_bars(symbol, interval, horizon, extended_hours=extended, month=month,
                                    outputsize="full" if month else outputsize)
        if params.get("adjusted", "true").lower() != "false":
            bars = market.adjusted_bars(symbol, interval, bars, self._today(), extended_hours=extended)
        rows = [(bar.start.strftime("%Y-%m-%d %H:%M:%S"), bar) for bar in bars]
        if params.get("datatype") == "csv":
            return _csv(rows)
        last = rows[0][0] if rows else horizon.astimezone(market.EASTERN).strftime("%Y-%m-%d %H:%M:%S")
        return {
            "Meta Data": {
                "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
                "2. Symbol": symbol,
                "3. Last Refreshed": last,
                "4. Interval": interval,
                "5. Output Size": "Full size" if outputsize == "full" or month else "Compact",
                "6. Time Zone": "US/Eastern",
            },
            f"Time Series ({interval})": {stamp: _ohlcv(bar) for stamp, bar in rows},
        }

    def _daily(self, symbol: str, params: dict[str, str], invalid: dict, horizon: datetime) -> dict | str:
        outputsize = params.get("outputsize", "compact")
        if outputsize == "full":
            return {"Information": MSG_PREMIUM_PARAMETER.format(parameter="outputsize=full",
                                                               function="TIME_SERIES_DAILY")}
        if outputsize != "compact":
            return invalid
        bars = market.daily_bars(symbol, horizon)
        rows = [(bar.start.strftime("%Y-%m-%d"), bar) for bar in bars]
        if params.get("datatype") == "csv":
            return _csv(rows)
        return {
            "Meta Data": {
                "1. Information": "Daily Prices (open, high, low, close) and Volumes",
                "2. Symbol": symbol,
                "3. Last Refreshed": rows[0][0] if rows else "",
                "4. Output Size": "Compact",
                "5. Time Zone": "US/Eastern",
            },
            "Time Series (Daily)": {stamp: _ohlcv(bar) for stamp, bar in rows},
        }

    def _global_quote(self, symbol: str, params: dict[str, str], invalid: dict, horizon: datetime) -> dict | str:
        latest = market.intraday_bars(symbol, "5min", horizon, extended_hours=False, outputsize="compact")
        previous = market.daily_bars(symbol, horizon - timedelta(days=1))
        if not latest or not previous:
            return invalid
        day_bars = [bar for bar in latest if bar.start.date() == latest[0].start.date()]
        price, prev_close = latest[0].close, previous[0].close
        quote = {
            "01. symbol": symbol,
            "02. open": str(day_bars[-1].open),
            "03. high": str(max(bar.high for bar in day_bars)),
            "04. low": str(min(bar.low for bar in day_bars)),
            "05. price": str(price),
            "06. volume": str(sum(bar.volume for bar in day_bars)),
            "07. latest trading day": latest[0].start.strftime("%Y-%m-%d"),
            "08. previous close": str(prev_close),
            "09. change": str(price - prev_close),
            "10. change percent": f"{(price - prev_close) / prev_close * 100:.4f}%",
        }
        if params.get("datatype") == "csv":
            header = "symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent"
            return header + "\r\n" + ",".join(quote.values()) + "\r\n"
        delayed = params.get("entitlement") == "delayed"
        return {DELAYED_QUOTE_KEY if delayed else "Global Quote": quote}

    def _today(self) -> date:
        """The simulated day (US/Eastern): what the corporate actions are known and adjusted as of."""
        return self.clock.now().astimezone(market.EASTERN).date()

    def _splits(self, symbol: str, params: dict[str, str], invalid: dict, horizon: datetime) -> dict:
        """The splits effective by the simulated day, newest first (the API lists them so)."""
        today = self._today()
        return {"symbol": symbol, "data": [
            {"effective_date": day.isoformat(), "split_factor": f"{ratio:.4f}"}
            for day, ratio in reversed(market.splits(symbol, today))
        ]}

    def _dividends(self, symbol: str, params: dict[str, str], invalid: dict, horizon: datetime) -> dict:
        """The dividends gone ex by the simulated day, newest first."""
        today = self._today()
        return {"symbol": symbol, "data": [
            {"ex_dividend_date": d.ex_date.isoformat(), "declaration_date": d.declaration_date.isoformat(),
             "record_date": d.record_date.isoformat(), "payment_date": d.payment_date.isoformat(),
             "amount": str(d.amount)}
            for d in reversed(market.dividends(symbol, today))
        ]}


def _ohlcv(bar: market.SimBar) -> dict[str, str]:
    return {"1. open": str(bar.open), "2. high": str(bar.high), "3. low": str(bar.low),
            "4. close": str(bar.close), "5. volume": str(bar.volume)}


def _csv(rows: list[tuple[str, market.SimBar]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["timestamp", "open", "high", "low", "close", "volume"])
    for stamp, bar in rows:
        writer.writerow([stamp, bar.open, bar.high, bar.low, bar.close, bar.volume])
    return out.getvalue()


def make_server(simulator: AlphaVantageSimulator, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server answering GET /query from `simulator`; port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            if url.path != "/query":
                self._send(404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>")
                return
            params = {name: values[-1] for name, values in parse_qs(url.query).items()}
            content_type, body = simulator.answer(params)
            self._send(200, content_type, body)

        def _send(self, status: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            # The default logs the full URL, API key included: log without the query string.
            self.server_logger(f"{self.command} {urlsplit(self.path).path} {args[1] if len(args) > 1 else ''}")

        server_logger = staticmethod(lambda line: None)

    return ThreadingHTTPServer((host, port), Handler)
