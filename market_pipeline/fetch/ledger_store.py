"""Where the quota ledger is kept: the counters in a small Variable, the symbols in the warehouse.

Used by the live fetch, the history fetch and the corporate actions check (through their
`LedgerStore`), by the Airflow tasks (`market_pipeline.in_airflow.connections`) and, outside
Airflow, by the CLI and the tests (a Variable read and written through the REST API).

The counters are written before every request, so they must stay small whatever the watchlist
or the history: the day's count, the last minute's requests per second, the exhausted mark
(`quota.Ledger`, about 2 kB at most). Each symbol's state (watermark, flag, checks) and each
history month loaded grow with the watchlist and the years, so they are rows of the warehouse
(migration 0008), each written when it changes. A Variable written before that migration still
holds the symbols: the first load moves them to the warehouse, then writes the Variable without
them, so no watermark and no month record is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

import psycopg
from psycopg.rows import dict_row

from market_pipeline import warehouse
from market_pipeline.fetch.quota import Ledger, MonthLoad, SymbolState


class LedgerStore(Protocol):
    def load(self, months: Iterable[str] = ()) -> Ledger:
        """The counters and every symbol's state, with the history `months` named (others: none)."""

    def save(self, ledger: Ledger) -> None:
        """The counters: before every request."""

    def save_symbol(self, symbol: str, state: SymbolState) -> None:
        """One symbol's watermark, flag and checks (not its months)."""

    def save_month(self, symbol: str, month: str, load: MonthLoad) -> None: ...


class QuotaVariable(Protocol):
    """The Airflow Variable that holds the counters: the Task SDK's in a task, REST outside."""

    name: str

    def get(self) -> str | None: ...

    def set(self, value: str) -> None: ...

    def verify(self) -> None:
        """Fail unless the Variable holds the last value set (checked when the store closes)."""


class MemoryLedgerStore:
    """The ledger kept in memory, serialised as the real store does (replays, drills, unit tests)."""

    def __init__(self) -> None:
        self.saved = Ledger().model_dump_json()
        self.symbols: dict[str, str] = {}
        self.months: dict[tuple[str, str], str] = {}

    def load(self, months: Iterable[str] = ()) -> Ledger:
        ledger = Ledger.model_validate_json(self.saved)
        ledger.symbols = {symbol: SymbolState.model_validate_json(state) for symbol, state in self.symbols.items()}
        wanted = set(months)
        for (symbol, month), load in self.months.items():
            if month in wanted:
                ledger.symbol(symbol).months[month] = MonthLoad.model_validate_json(load)
        return ledger

    def save(self, ledger: Ledger) -> None:
        self.saved = ledger.model_dump_json()

    def save_symbol(self, symbol: str, state: SymbolState) -> None:
        self.symbols[symbol] = state.model_dump_json(exclude={"months"})

    def save_month(self, symbol: str, month: str, load: MonthLoad) -> None:
        self.symbols.setdefault(symbol, SymbolState().model_dump_json())
        self.months[(symbol, month)] = load.model_dump_json()


class WarehouseLedgerStore:
    """The counters in `variable`; symbols and months in the warehouse under the Variable's name.
    One connection, kept for the store's life and shared by the fetch threads under a lock."""

    def __init__(self, variable: QuotaVariable, warehouse_uri: str) -> None:
        self.variable = variable
        self.warehouse_uri = warehouse_uri
        self._connection: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def load(self, months: Iterable[str] = ()) -> Ledger:
        ledger = Ledger.from_stored(self.variable.get())
        if ledger.symbols:
            self._move_symbols_out_of_the_variable(ledger)
        key = {"ledger": self.variable.name}
        with self._lock:
            conn = self._connect()
            states = conn.execute(warehouse.query("symbol_fetch_states"), key).fetchall()
            loads = conn.execute(warehouse.query("history_months"), {**key, "months": list(months)}).fetchall() \
                if months else []
        ledger.symbols = {row.pop("symbol"): SymbolState(**row) for row in states}
        for row in loads:
            ledger.symbol(row.pop("symbol")).months[row.pop("month")] = MonthLoad(**row)
        return ledger

    def save(self, ledger: Ledger) -> None:
        self.variable.set(ledger.model_dump_json())

    def save_symbol(self, symbol: str, state: SymbolState) -> None:
        with self._lock:
            self._connect().execute(warehouse.query("upsert_symbol_fetch_state"), self._symbol_row(symbol, state))

    def save_month(self, symbol: str, month: str, load: MonthLoad) -> None:
        with self._lock:
            self._connect().execute(warehouse.query("upsert_history_month"), self._month_row(symbol, month, load))

    def all_months(self) -> dict[str, dict[str, MonthLoad]]:
        """Every history month of the ledger, by symbol (the CLI's report of months stored adjusted)."""
        with self._lock:
            rows = self._connect().execute(warehouse.query("history_months"),
                                           {"ledger": self.variable.name, "months": []}).fetchall()
        months: dict[str, dict[str, MonthLoad]] = {}
        for row in rows:
            months.setdefault(row.pop("symbol"), {})[row.pop("month")] = MonthLoad(**row)
        return months

    def history_progress(self, symbols: list[str]) -> dict:
        """months_loaded, first and last month of the watchlist's history (the history task's log)."""
        with self._lock:
            return self._connect().execute(warehouse.query("history_progress"),
                                           {"ledger": self.variable.name, "symbols": symbols}).fetchone()

    def __enter__(self) -> WarehouseLedgerStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        self.variable.verify()

    def _move_symbols_out_of_the_variable(self, ledger: Ledger) -> None:
        """One transaction writes every symbol and month; only then is the Variable rewritten."""
        with warehouse.transaction(self.warehouse_uri, application_name="ledger_migration") as conn, \
                conn.cursor() as cursor:
            cursor.executemany(warehouse.query("upsert_symbol_fetch_state"),
                               [self._symbol_row(symbol, state) for symbol, state in ledger.symbols.items()])
            cursor.executemany(warehouse.query("upsert_history_month"),
                               [self._month_row(symbol, month, load) for symbol, state in ledger.symbols.items()
                                for month, load in state.months.items()])
        self.save(ledger)

    def _connect(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self.warehouse_uri, autocommit=True, row_factory=dict_row,
                                               application_name="ledger_store")
        return self._connection

    def _symbol_row(self, symbol: str, state: SymbolState) -> dict:
        return {"ledger": self.variable.name, "symbol": symbol, **state.model_dump(exclude={"months"})}

    def _month_row(self, symbol: str, month: str, load: MonthLoad) -> dict:
        return {"ledger": self.variable.name, "symbol": symbol, "month": month, **load.model_dump()}
