"""What the tasks, the CLI, the benchmark and the drills read from Airflow's connections and
Variables: the Kafka, warehouse and Spark Connect settings, the API client, and the quota ledger's
store (its counters in a Variable, its symbols in the warehouse)."""

from __future__ import annotations

from airflow.sdk import Connection, Variable

from market_pipeline.fetch.alphavantage import AlphaVantageClient, RequestObserver
from market_pipeline.fetch.ledger_store import WarehouseLedgerStore
from market_pipeline.in_airflow.params import RunTarget
from market_pipeline.settings import (
    ALPHAVANTAGE_CONN_ID,
    KAFKA_CONN_ID,
    QUOTA_LEDGER_VARIABLE,
    SPARK_CONNECT_CONN_ID,
    WAREHOUSE_CONN_ID,
)
from market_pipeline.trading_calendar import Entitlement


class LedgerWriteFailed(Exception):
    """The ledger Variable did not hold what was just written to it."""


class TaskVariable:
    """The quota counters' Variable inside a task. The Task SDK's Variable.set has been reported to
    log and swallow a rejected write (apache/airflow#68537), so writes are read back: the first
    (a write rejected for good is rejected before a second request goes out) and, through
    `verify` when the store closes, the last (each write holds the whole count, so one that went
    through heals any swallowed before it). Between the two, each request costs one write."""

    def __init__(self, name: str = QUOTA_LEDGER_VARIABLE) -> None:
        self.name = name
        self._written: str | None = None
        self._first_read_back = False

    def get(self) -> str | None:
        return Variable.get(self.name, default=None)

    def set(self, value: str) -> None:
        Variable.set(self.name, value)
        self._written = value
        if not self._first_read_back:
            self._first_read_back = True
            self.verify()

    def verify(self) -> None:
        """The Variable holds the last value written (if any)."""
        if self._written is not None and self.get() != self._written:
            raise LedgerWriteFailed(f"Variable {self.name!r} does not hold the ledger just written")


def ledger_store(target: RunTarget) -> WarehouseLedgerStore:
    """The run's quota ledger: counters in its Variable, symbols in its warehouse (a context
    manager: its warehouse connection is closed at the end)."""
    return WarehouseLedgerStore(TaskVariable(target.ledger_variable), warehouse_uri(target.warehouse_conn_id))


def kafka_config() -> dict[str, str]:
    """librdkafka settings from the Kafka connection's extra (Airflow's Kafka provider format)."""
    return dict(Connection.get(KAFKA_CONN_ID).extra_dejson)


def alphavantage_client(
    conn_id: str = ALPHAVANTAGE_CONN_ID, entitlement: Entitlement = "none", observer: RequestObserver | None = None
) -> AlphaVantageClient:
    connection = Connection.get(conn_id)
    return AlphaVantageClient(connection.host or "", connection.password or "",
                              entitlement=entitlement, observer=observer)


def warehouse_uri(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse's libpq URI, from its Airflow connection."""
    return Connection.get(conn_id).get_uri()


def spark_connect_url(conn_id: str = SPARK_CONNECT_CONN_ID) -> str:
    """The Spark Connect server's sc:// URL, from its connection (the Spark provider's format)."""
    from airflow.providers.apache.spark.hooks.spark_connect import SparkConnectHook

    return SparkConnectHook(conn_id).get_connection_url()
