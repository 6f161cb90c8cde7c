"""Waits on the real stack: poll a condition until it holds or a deadline passes (tenacity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_not_result, stop_after_delay, wait_fixed

T = TypeVar("T")


def wait_until(condition: Callable[[], T], seconds: float, interval: float = 0.5) -> T | bool:
    """Poll until `condition()` is true and return its value; False if `seconds` pass first."""
    return Retrying(retry=retry_if_not_result(bool), wait=wait_fixed(interval), stop=stop_after_delay(seconds),
                    retry_error_callback=lambda _state: False)(condition)


def wait_for(condition: Callable[[], T], seconds: float, failure: str | Callable[[], str],
             interval: float = 0.5) -> T:
    """As `wait_until`, for a test: an AssertionError saying `failure` (or what it returns, read at
    the deadline, so it can show the last state seen) if `seconds` pass first."""
    value = wait_until(condition, seconds, interval)
    assert value, failure() if callable(failure) else failure
    return value
