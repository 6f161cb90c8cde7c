"""Test doubles of the unit tests."""

from collections.abc import Callable
from datetime import timedelta

from market_pipeline.fetch.alphavantage import RequestOutcome
from market_pipeline.simulator import SimClock


class RecordingObserver:
    """Records what the client reports of each HTTP request."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.outcomes: list[RequestOutcome] = []

    def before_request(self, function: str, params: dict[str, str]) -> None:
        self.sent.append((function, dict(params)))

    def after_request(self, outcome: RequestOutcome) -> None:
        self.outcomes.append(outcome)


def sleep_on(clock: SimClock) -> Callable[[float], None]:
    """A fetch's sleep that moves the simulator's clock instead of waiting: the meter's pacing
    runs as in production (one request at a time, a second apart) and the test takes no time."""
    return lambda seconds: clock.advance(timedelta(seconds=seconds))
