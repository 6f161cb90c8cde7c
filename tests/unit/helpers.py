"""Test doubles of the unit tests."""

from market_pipeline.quota import Ledger


class DictLedgerStore:
    """The ledger kept in memory, serialised as the Variable store does."""

    def __init__(self) -> None:
        self.saved = Ledger().model_dump_json()

    def load(self) -> Ledger:
        return Ledger.model_validate_json(self.saved)

    def save(self, ledger: Ledger) -> None:
        self.saved = ledger.model_dump_json()
