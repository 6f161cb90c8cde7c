"""Bars: validation of raw API rows and their Kafka message form.

Called by the fetch task between the API and Kafka: a row becomes a `Bar` only
if every check passes, otherwise a `RejectedBar` that keeps the raw row and the
reason, for the dead-letter topic.  Prices stay `Decimal` from the API's strings
to the warehouse's `numeric` columns: no float ever rounds them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from market_pipeline.alphavantage import SeriesReply

API_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
API_DATE_FORMAT = "%Y-%m-%d"

SYMBOL_PATTERN = r"^[A-Z0-9.\-]{1,16}$"
FinitePrice = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=18, decimal_places=6)]


class Bar(BaseModel):
    """One OHLCV bar, bar_time in UTC (the start of the bar, as the API labels it)."""

    model_config = ConfigDict(frozen=True)

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: str
    bar_time: datetime
    open: FinitePrice
    high: FinitePrice
    low: FinitePrice
    close: FinitePrice
    volume: int = Field(ge=0)
    fetched_at: datetime

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
    def _ohlc_consistent(self) -> Bar:
        if self.high < max(self.open, self.close):
            raise ValueError(f"high {self.high} is below open/close")
        if self.low > min(self.open, self.close):
            raise ValueError(f"low {self.low} is above open/close")
        return self

    def to_message(self) -> bytes:
        """The bars topic's JSON: decimals as strings so no consumer parses them as floats."""
        return json.dumps(
            {
                "symbol": self.symbol,
                "interval": self.interval,
                "bar_time": _iso_utc(self.bar_time),
                "open": str(self.open),
                "high": str(self.high),
                "low": str(self.low),
                "close": str(self.close),
                "volume": self.volume,
                "fetched_at": _iso_utc(self.fetched_at),
            },
            separators=(",", ":"),
        ).encode()


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
    fmt = API_DATE_FORMAT if reply.interval == "Daily" else API_TIMESTAMP_FORMAT
    try:
        local = datetime.strptime(timestamp, fmt)
    except (TypeError, ValueError):
        raise ValueError(f"timestamp {timestamp!r} is not {fmt}") from None
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
