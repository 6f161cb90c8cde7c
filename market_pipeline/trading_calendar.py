"""The NYSE calendar (exchange_calendars' XNYS: holidays and half-days included),
shared by the call planner and the simulator."""

from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars

EASTERN = ZoneInfo("US/Eastern")


@cache
def nyse() -> exchange_calendars.ExchangeCalendar:
    return exchange_calendars.get_calendar("XNYS")
