"""Where a run works: `RunTarget`, the DAGs' params (which Variables, connections, topics and
drain query a run uses; the live pipeline's by default), and reading the user's settings from
their Variable inside a task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.settings import (
    ALPHAVANTAGE_CONN_ID,
    BARS_TOPIC,
    CONFIG_VARIABLE,
    DEAD_LETTER_TOPIC,
    DRAIN_QUERY_NAME,
    QUOTA_LEDGER_VARIABLE,
    SPARK_CONN_ID,
    SPARK_CONNECT_CONN_ID,
    WAREHOUSE_CONN_ID,
)


class RunTarget(BaseModel):
    """Where one run of the live DAG reads and writes: its params. The defaults are the live
    pipeline; the end-to-end tests point a run at their own Variables, connections, topics and
    warehouse, and replay another time on the simulator's virtual clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config_variable: str = CONFIG_VARIABLE
    ledger_variable: str = QUOTA_LEDGER_VARIABLE
    alphavantage_conn_id: str = ALPHAVANTAGE_CONN_ID
    warehouse_conn_id: str = WAREHOUSE_CONN_ID
    spark_connect_conn_id: str = SPARK_CONNECT_CONN_ID
    spark_conn_id: str = SPARK_CONN_ID
    bars_topic: str = BARS_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    query_name: str = DRAIN_QUERY_NAME
    # Shift the run's clock by this many seconds: replays against the simulator's virtual clock,
    # which runs at the same offset. Every run and every resumed task of a replay agrees on the time.
    clock_offset_seconds: float = 0.0

    @model_validator(mode="after")
    def _no_replay_on_the_live_ledger(self) -> RunTarget:
        if self.clock_offset_seconds and self.ledger_variable == QUOTA_LEDGER_VARIABLE:
            raise ValueError("clock_offset_seconds replays another time: it needs its own ledger_variable")
        return self

    def now(self) -> datetime:
        """The run's clock: the wall clock, shifted for replays."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_seconds)

    def wall_time(self, moment: datetime) -> datetime:
        """When the wall clock reaches the run's `moment` (a deferral's wake-up time)."""
        return moment - timedelta(seconds=self.clock_offset_seconds)


RUN_PARAM_DESCRIPTIONS = {
    "config_variable": "Variable holding the pipeline settings (watchlist, entitlement, quota)",
    "ledger_variable": "Variable holding the quota ledger",
    "alphavantage_conn_id": "HTTP connection of the Alpha Vantage API",
    "warehouse_conn_id": "Postgres connection of the warehouse (and its API call log)",
    "spark_connect_conn_id": "Spark Connect connection of the drain's long-lived Spark (drain_session connect)",
    "spark_conn_id": "Spark connection of the drain's spark-submit: its master, the drain's Spark when "
                     "drain_session is per_run",
    "bars_topic": "Kafka topic of valid bars",
    "dead_letter_topic": "Kafka topic of rejected rows",
    "query_name": "Name of the Spark drain: its checkpoint folder and its offsets in the warehouse",
    "clock_offset_seconds": "Shift the run's clock (replays against the simulator only; needs its own ledger)",
}


def run_params() -> dict:
    """The live DAG's params: one per RunTarget field, defaults = the live pipeline."""
    from airflow.sdk import Param

    return {name: Param(field.default, type="number" if name == "clock_offset_seconds" else "string",
                        description=RUN_PARAM_DESCRIPTIONS[name])
            for name, field in RunTarget.model_fields.items()}


def load_config(variable: str = CONFIG_VARIABLE) -> PipelineConfig:
    """Read and validate the Variable (inside a task: never at DAG parse time)."""
    from airflow.sdk import Variable

    return PipelineConfig.model_validate(Variable.get(variable, deserialize_json=True))
