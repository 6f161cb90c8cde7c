"""The ledger's Variable fails the task when a write does not stick (apache/airflow#68537)."""

import pytest

from market_pipeline.fetch.quota import Ledger
from market_pipeline.in_airflow import connections


class WorkingVariable:
    """Stands in for the Task SDK's Variable; each test gets its own store."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}

    def get(self, key, default=None):
        return self.stored.get(key, default)

    def set(self, key, value):
        self.stored[key] = value


class SwallowingVariable(WorkingVariable):
    """As reported in the issue: set() logs and keeps nothing."""

    def set(self, key, value):
        pass


def test_should_fail_when_the_write_is_swallowed(monkeypatch):
    monkeypatch.setattr(connections, "Variable", SwallowingVariable())
    with pytest.raises(connections.LedgerWriteFailed):
        connections.TaskVariable().set(Ledger(calls_today=3).model_dump_json())


class SwallowingAfterTheFirst(WorkingVariable):
    """Keeps the first write, then swallows the rest."""

    def set(self, key, value):
        if key not in self.stored:
            super().set(key, value)


def test_should_fail_at_the_end_when_the_last_write_was_swallowed(monkeypatch):
    monkeypatch.setattr(connections, "Variable", SwallowingAfterTheFirst())
    variable = connections.TaskVariable()
    variable.set(Ledger(calls_today=1).model_dump_json())
    variable.set(Ledger(calls_today=2).model_dump_json())  # swallowed: no read-back between
    with pytest.raises(connections.LedgerWriteFailed):
        variable.verify()


def test_should_round_trip_the_ledger(monkeypatch):
    monkeypatch.setattr(connections, "Variable", WorkingVariable())
    variable = connections.TaskVariable()
    assert Ledger.from_stored(variable.get()) == Ledger()
    variable.set(Ledger(calls_today=3).model_dump_json())
    assert Ledger.from_stored(variable.get()).calls_today == 3
