"""Bars: validation of raw API rows and their Kafka message form.

Called by the fetch task between the API and Kafka: a row becomes a `Bar` only
if every check passes, otherwise a `RejectedBar` that keeps the raw row and the
reason, for the dead-letter topic.  Prices stay `Decimal` from the API's strings
to the warehouse's `numeric` columns: no float ever rounds them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from market_pipeline.fetch.alphavantage import INTRADAY_INTERVALS, SeriesReply

API_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# The bar's contract: the `Bar` model's fields and their types, and `RULES`. The fetch validates
# with them; the drain's Spark schema, casts and quarantine reasons (`spark_apps/`) and the sink's
# columns (`market_pipeline.load.sink`) are derived from them; tests/integration/test_bar_contract.py
# proves the three layers and the warehouse's own constraints agree.
PRICE_DIGITS, PRICE_SCALE = 18, 6  # numeric(18,6) in the warehouse
Price = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=PRICE_DIGITS, decimal_places=PRICE_SCALE)]
# Whole seconds, "Z": the message form the drain parses.
UtcTimestamp = Annotated[datetime, PlainSerializer(lambda value: _iso_utc(value), when_used="json")]
# Each field type in the drain: the Spark SQL type a message's text is cast to, and what a value
# that is missing or does not cast is called in its quarantine reason.
SPARK_TYPES: dict[type, tuple[str, str]] = {
    str: ("string", "missing"),
    datetime: ("timestamp", "missing or not an ISO-8601 UTC timestamp"),
    Decimal: (f"decimal({PRICE_DIGITS},{PRICE_SCALE})", "missing, not a number, or out of range"),
    int: ("bigint", "missing or not an integer"),
}
SYMBOL_PATTERN = r"^[A-Z0-9.-]{1,16}$"


@dataclass(frozen=True)
class Rule:
    """A check on a bar whose fields are all present and typed, with the reason it gives.

    `sql` is the check in the SQL that Spark and PostgreSQL both speak; `holds` is the same
    check in Python, side by side so the two read as one."""

    reason: str
    sql: str
    holds: Callable[[Any], bool]


RULES = (
    Rule("symbol is not an upper-case ticker", f"regexp_like(symbol, '{SYMBOL_PATTERN}')",
         lambda bar: re.fullmatch(SYMBOL_PATTERN, bar.symbol) is not None),
    Rule("unknown interval", "interval IN ({})".format(", ".join(f"'{i}'" for i in INTRADAY_INTERVALS)),
         lambda bar: bar.interval in INTRADAY_INTERVALS),
    Rule("negative volume", "volume >= 0", lambda bar: bar.volume >= 0),
    Rule("low is not positive", "low > 0", lambda bar: bar.low > 0),
    Rule("high is below open or close", "high >= greatest(open, close)",
         lambda bar: bar.high >= max(bar.open, bar.close)),
    Rule("low is above open or close", "low <= least(open, close)",
         lambda bar: bar.low <= min(bar.open, bar.close)),
)


class Bar(BaseModel):
    """One OHLCV bar, bar_time in UTC (the start of the bar, as the API labels it)."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    interval: str
    bar_time: UtcTimestamp
    open: Price
    high: Price
    low: Price
    close: Price
    volume: int
    fetched_at: UtcTimestamp

    @field_validator("volume", mode="before")
    @classmethod
    def _volume_is_integral(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().endswith(".0"):
            value = value.strip()[:-2]
        return value

    @field_validator("bar_time", "fetched_at")
    @classmethod
    def _is_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp has no time zone")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _obeys_the_rules(self) -> Bar:
        for rule in RULES:
            if not rule.holds(self):
                raise ValueError(rule.reason)
        return self

    def to_message(self) -> bytes:
        """The bars topic's JSON: decimals as strings so no consumer parses them as floats."""
        return self.model_dump_json().encode()


def spark_fields() -> list[tuple[str, str, str]]:
    """(name, Spark SQL type, what a missing or uncastable value is called) of each field."""
    return [(name, *SPARK_TYPES[field.annotation]) for name, field in Bar.model_fields.items()]


@dataclass(frozen=True)
class RejectedBar:
    """A row that failed validation, kept whole with the reason for the dead-letter topic."""

    symbol: str
    interval: str
    raw: dict[str, Any]
    reason: str
    fetched_at: datetime

    def to_message(self) -> bytes:
        return json.dumps(
            {
                "symbol": self.symbol,
                "interval": self.interval,
                "raw": self.raw,
                "reason": self.reason,
                "fetched_at": _iso_utc(self.fetched_at),
            },
            separators=(",", ":"),
            default=str,
        ).encode()


def validate_series(
    reply: SeriesReply, fetched_at: datetime, newer_than: datetime | None = None
) -> tuple[list[Bar], list[RejectedBar]]:
    """Split a reply's rows into valid bars (oldest first) and rejected rows with their reasons.

    Rows with a well-formed timestamp at or before `newer_than` (the symbol's watermark) are
    left out unread: they were validated and published, or dead-lettered, by an earlier fetch."""
    try:
        zone = ZoneInfo(reply.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        reason = f"unknown time zone {reply.time_zone!r} in Meta Data"
        return [], [
            RejectedBar(reply.symbol, reply.interval, {"timestamp": ts, **row}, reason, fetched_at)
            for ts, row in reply.rows
        ]
    bars, rejected = [], []
    for timestamp, row in reply.rows:
        if newer_than is not None and _at_or_before(timestamp, zone, newer_than):
            continue
        try:
            bars.append(_to_bar(reply, zone, timestamp, row, fetched_at))
        except (ValidationError, ValueError) as exc:
            raw = {"timestamp": timestamp, **row}
            rejected.append(RejectedBar(reply.symbol, reply.interval, raw, _reason(exc), fetched_at))
    bars.sort(key=lambda bar: bar.bar_time)
    return bars, rejected


def _to_bar(reply: SeriesReply, zone: ZoneInfo, timestamp: str, row: dict[str, str], fetched_at: datetime) -> Bar:
    try:
        local = datetime.strptime(timestamp, API_TIMESTAMP_FORMAT)
    except (TypeError, ValueError):
        raise ValueError(f"timestamp {timestamp!r} is not {API_TIMESTAMP_FORMAT}") from None
    fields = {name.split(". ", 1)[-1]: value for name, value in row.items()}
    return Bar(
        symbol=reply.symbol,
        interval=reply.interval,
        # Exchange-local wall time -> UTC; zoneinfo applies the right DST offset per date.
        bar_time=local.replace(tzinfo=zone),
        open=fields.get("open"),
        high=fields.get("high"),
        low=fields.get("low"),
        close=fields.get("close"),
        volume=fields.get("volume"),
        fetched_at=fetched_at,
    )


def _at_or_before(timestamp: object, zone: ZoneInfo, moment: datetime) -> bool:
    """Whether a row's timestamp is a valid one at or before `moment`; reading the time alone is
    far cheaper than validating the whole row."""
    try:
        return datetime.strptime(str(timestamp), API_TIMESTAMP_FORMAT).replace(tzinfo=zone) <= moment
    except ValueError:
        return False


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'bar'}: {err['msg']}" for err in exc.errors()
        )
    return str(exc)


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
