"""The ledger's Variable store fails the task when a write does not stick (apache/airflow#68537)."""

import pytest

from market_pipeline import tasks
from market_pipeline.quota import Ledger


class SwallowingVariable:
    """Stands in for the Task SDK's Variable as reported in the issue: set() logs and keeps nothing."""

    stored: dict[str, str] = {}

    @classmethod
    def get(cls, key, default=None):
        return cls.stored.get(key, default)

    @classmethod
    def set(cls, key, value):
        pass


class WorkingVariable(SwallowingVariable):
    @classmethod
    def set(cls, key, value):
        cls.stored[key] = value


def test_should_fail_when_the_write_is_swallowed(monkeypatch):
    monkeypatch.setattr(tasks, "Variable", SwallowingVariable)
    with pytest.raises(tasks.LedgerWriteFailed):
        tasks.VariableLedgerStore().save(Ledger(calls_today=3))


def test_should_round_trip_the_ledger(monkeypatch):
    monkeypatch.setattr(tasks, "Variable", WorkingVariable)
    store = tasks.VariableLedgerStore()
    assert store.load() == Ledger()
    store.save(Ledger(calls_today=3))
    assert store.load().calls_today == 3
