"""Sandboxed pipelines inside the running Airflow, and running a DAG on one."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from market_pipeline import kafka_io, warehouse
from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.ledger_store import WarehouseLedgerStore
from market_pipeline.fetch.quota import Ledger
from market_pipeline.in_airflow.airflow_api import AirflowApi, RestVariable
from market_pipeline.in_airflow.params import RunTarget
from market_pipeline.settings import CHECKPOINTS_DIR, CONFIG_VARIABLE
from market_pipeline.simulator import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server


def airflow_with(*dag_ids: str) -> AirflowApi:
    """The stack's api-server, once its dag-processor has parsed these DAGs."""
    api = AirflowApi.from_environment()
    for dag_id in dag_ids:
        api.wait_for_dag(dag_id)
    return api


def free_tier_key(entitlement: str) -> SimulatorOptions:
    """A simulated key on the free tier's limits (25 requests a day, about one a second)."""
    return SimulatorOptions(per_second=1, per_minute=None, per_day=25, key_entitlement=entitlement)


@dataclass
class Sandbox:
    """A pipeline of its own inside the running Airflow: a simulator on a virtual clock, an API
    connection and key, config and ledger Variables, topics, a drain query and the tests'
    warehouse database, all named by one suffix; runs reach it through the DAGs' params."""

    api: AirflowApi
    simulator: AlphaVantageSimulator
    api_key: str
    warehouse_uri: str
    target: RunTarget
    api_url: str  # the simulator's /query, as the sandbox's API connection names it

    def client(self) -> AlphaVantageClient:
        """A client of the sandbox's simulator with its key: what the DAGs' fetches see."""
        return AlphaVantageClient(self.api_url, self.api_key)

    def config(self) -> dict:
        return json.loads(self.api.call("GET", f"variables/{self.target.config_variable}")["value"])

    def set_config(self, **changes) -> None:
        self.api.call("PATCH", f"variables/{self.target.config_variable}",
                      json={"key": self.target.config_variable, "value": json.dumps({**self.config(), **changes})})

    def advance(self, delta: timedelta) -> None:
        """Move the simulator's clock and the runs' clock together."""
        self.simulator.clock.advance(delta)
        self.target = self.target.model_copy(
            update={"clock_offset_seconds": self.target.clock_offset_seconds + delta.total_seconds()})

    def ledger_store(self) -> WarehouseLedgerStore:
        """The sandbox's quota ledger: its counters' Variable through the REST API, its symbols in
        the sandbox's warehouse (a context manager)."""
        return WarehouseLedgerStore(RestVariable(self.api, self.target.ledger_variable), self.warehouse_uri)

    def ledger(self) -> Ledger:
        with self.ledger_store() as store:
            return store.load()


@contextmanager
def sandbox(api: AirflowApi, kafka_bootstrap: str, warehouse_uri: str, *, start: datetime,
            options: SimulatorOptions, **config_changes) -> Iterator[Sandbox]:
    suffix = uuid.uuid4().hex[:8]
    simulator = AlphaVantageSimulator(SimClock(start), options)
    server = make_server(simulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_key = f"SANDBOXKEY-{uuid.uuid4().hex}"
    target = RunTarget(
        config_variable=f"market_data_config_{suffix}", ledger_variable=f"quota_ledger_{suffix}",
        alphavantage_conn_id=f"alphavantage_{suffix}", warehouse_conn_id=f"warehouse_{suffix}",
        bars_topic=f"sandbox.bars.{suffix}", dead_letter_topic=f"sandbox.dead-letter.{suffix}",
        query_name=f"sandbox_{suffix}",
    )
    kafka_io.ensure_topics(kafka_bootstrap, {target.bars_topic: 3, target.dead_letter_topic: 1})
    warehouse.recreate(warehouse_uri)
    live_config = json.loads(api.call("GET", f"variables/{CONFIG_VARIABLE}")["value"])
    api.call("POST", "variables", json={"key": target.config_variable,
                                        "value": json.dumps({**live_config, **config_changes})})
    api_url = f"http://127.0.0.1:{server.server_address[1]}/query"
    api.call("POST", "connections", json={
        "connection_id": target.alphavantage_conn_id, "conn_type": "http", "host": api_url, "password": api_key})
    db = urlsplit(warehouse_uri)
    api.call("POST", "connections", json={
        "connection_id": target.warehouse_conn_id, "conn_type": "postgres", "host": db.hostname, "port": db.port,
        "login": db.username, "password": db.password, "schema": db.path.lstrip("/")})
    # Both clocks start at `start` now that the setup is done: a test that starts just before a
    # moment (a midnight) has all the time it planned for.
    simulator.clock = SimClock(start)
    target = target.model_copy(update={"clock_offset_seconds": (start - datetime.now(UTC)).total_seconds()})
    try:
        yield Sandbox(api, simulator, api_key, warehouse_uri, target, api_url)
    finally:
        for conn_id in (target.alphavantage_conn_id, target.warehouse_conn_id):
            api.request("DELETE", f"connections/{conn_id}")
        for key in (target.config_variable, target.ledger_variable):
            api.request("DELETE", f"variables/{key}")
        shutil.rmtree(CHECKPOINTS_DIR / target.query_name, ignore_errors=True)
        server.shutdown()
        server.server_close()


def run_dag(api: AirflowApi, dag_id: str, target: RunTarget) -> tuple[str, dict, dict]:
    """Trigger a run on the sandbox, ahead of the scheduled ones; wait for its end."""
    run_id = api.trigger(dag_id, conf=target.model_dump(mode="json"), ahead_of_schedule=True)
    api.unpause(dag_id)
    run = api.wait_for_run(dag_id, run_id, timeout_seconds=600)
    return run_id, run, api.task_states(dag_id, run_id)
