"""When the API can have which bars: the NYSE calendar (exchange_calendars' XNYS,
holidays and half days included) and the data entitlements of Alpha Vantage keys.

Shared by the call planner (`market_pipeline.fetch.quota`) and the simulator, so both
agree on when a session's bars exist and when a key may see them:

- `none` (free keys, and any request without the `entitlement` parameter): US
  intraday data is updated at the end of each trading day. We take a session as
  published `PUBLICATION_DELAY` after its last extended-hours bar ends: 20:30
  US/Eastern, 17:30 on half days.
- `delayed`: bars that ended at least 15 minutes ago.
- `realtime`: bars that have ended.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal, get_args
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import exchange_calendars

EASTERN = ZoneInfo("US/Eastern")
EXTENDED_OPEN = time(4, 0)
EXTENDED_CLOSE = time(20, 0)
REGULAR_CLOSE = time(16, 0)

Entitlement = Literal["none", "delayed", "realtime"]
ENTITLEMENTS: tuple[str, ...] = get_args(Entitlement)
ENTITLEMENT_DELAY = {"delayed": timedelta(minutes=15), "realtime": timedelta(0)}
PUBLICATION_DELAY = timedelta(minutes=30)
# The API's intraday history starts in January 2000; exchange_calendars' default first session
# is only 20 years back.
HISTORY_START = date(2000, 1, 1)


@cache
def nyse() -> exchange_calendars.ExchangeCalendar:
    # Imported here: it takes 0.4 s, and the drain's driver and its sink worker import this module
    # (through the bar's contract) without ever asking for a session.
    import exchange_calendars

    return exchange_calendars.get_calendar("XNYS", start=HISTORY_START.isoformat())


@cache
def trading_days(first: date, last: date) -> tuple[date, ...]:
    """NYSE sessions between two dates, both included."""
    if last < first:
        return ()
    return tuple(session.date() for session in nyse().sessions_in_range(first.isoformat(), last.isoformat()))


@cache
def session_bounds(day: date, extended_hours: bool) -> tuple[datetime, datetime]:
    """When a trading day's bars start and stop, US/Eastern; half days close early, their
    post-market too (four hours after the close)."""
    close = nyse().session_close(day.isoformat()).tz_convert(EASTERN).to_pydatetime()
    if not extended_hours:
        return nyse().session_open(day.isoformat()).tz_convert(EASTERN).to_pydatetime(), close
    extended_close = datetime.combine(day, EXTENDED_CLOSE, EASTERN)
    if close.time() < REGULAR_CLOSE:
        extended_close = close + timedelta(hours=4)
    return datetime.combine(day, EXTENDED_OPEN, EASTERN), extended_close


def month_days(month: str) -> tuple[date, date]:
    """The first and last calendar day of a "YYYY-MM" month."""
    first = date.fromisoformat(f"{month}-01")
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def sessions_until(moment: datetime, lookback_days: int = 10) -> tuple[date, ...]:
    """The trading days up to `moment`'s US/Eastern date, oldest first."""
    today = moment.astimezone(EASTERN).date()
    return trading_days(today - timedelta(days=lookback_days), today)


def publication_time(day: date) -> datetime:
    """When the API publishes a session's bars for keys without an entitlement."""
    return session_bounds(day, extended_hours=True)[1] + PUBLICATION_DELAY


def published_session(now: datetime) -> date | None:
    """The latest session a key without an entitlement can see at `now`."""
    published = [day for day in sessions_until(now) if publication_time(day) <= now]
    return published[-1] if published else None


def data_horizon(now: datetime, entitlement: Entitlement) -> datetime:
    """Bars that end at or before this moment are served to a request with `entitlement`."""
    if entitlement == "none":
        day = published_session(now)
        return session_bounds(day, extended_hours=True)[1] if day else now - timedelta(days=30)
    return now - ENTITLEMENT_DELAY[entitlement]
