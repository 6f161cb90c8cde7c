"""Test doubles of the unit tests."""

from market_pipeline.fetch.alphavantage import RequestOutcome


class RecordingObserver:
    """Records what the client reports of each HTTP request."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.outcomes: list[RequestOutcome] = []

    def before_request(self, function: str, params: dict[str, str]) -> None:
        self.sent.append((function, dict(params)))

    def after_request(self, outcome: RequestOutcome) -> None:
        self.outcomes.append(outcome)
