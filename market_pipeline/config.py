"""What a user tunes at run time, from the `market_data_config` Airflow Variable,
and where a run works (`RunTarget`, the live DAG's params).

`config/airflow_variables.json` seeds the Variable at `bin/stack start` (only
when it does not exist yet, so edits made in the UI survive restarts); the
model here validates it, so a typo fails the task with the field's name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from market_pipeline.alphavantage import Interval, OutputSize
from market_pipeline.quota import QuotaLimits
from market_pipeline.settings import (
    ALPHAVANTAGE_CONN_ID,
    BARS_TOPIC,
    CONFIG_VARIABLE,
    DEAD_LETTER_TOPIC,
    DRAIN_QUERY_NAME,
    QUOTA_LEDGER_VARIABLE,
    VARIABLES_FILE,
    WAREHOUSE_CONN_ID,
)
from market_pipeline.trading_calendar import Entitlement


class QuotaConfig(BaseModel):
    """The API key's limits: the free tier is 25 a day and about 1 a second; premium keys set
    per_day to null and per_minute to their plan's figure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_day: int | None = Field(gt=0)
    per_minute: int | None = Field(gt=0)
    per_second: float = Field(gt=0)

    def limits(self) -> QuotaLimits:
        return QuotaLimits(per_day=self.per_day, per_minute=self.per_minute, per_second=self.per_second)


class FreshnessConfig(BaseModel):
    """What the freshness watchdog tolerates (market_pipeline.freshness)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # delayed/realtime keys: how far the newest bar may lag the newest bar the key could see.
    # A capped key's plan spreads its calls over the day: size this to its spacing.
    max_age_minutes: int = Field(default=30, gt=0)
    # none: how long after a session's publication its bars must be loaded.
    end_of_day_grace_minutes: int = Field(default=60, gt=0)


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist: list[str] = Field(min_length=1)
    interval: Interval
    outputsize: OutputSize
    extended_hours: bool
    # What the key's plan includes: none (free keys: end-of-day data), delayed (15 min) or realtime.
    entitlement: Entitlement = "none"
    # Fetch even while the market is closed (costs calls; for catching up and demos).
    fetch_when_closed: bool
    quota: QuotaConfig
    max_offsets_per_trigger: int = Field(gt=0)
    freshness: FreshnessConfig = FreshnessConfig()

    @field_validator("watchlist")
    @classmethod
    def _symbols_upper(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value]


class RunTarget(BaseModel):
    """Where one run of the live DAG reads and writes: its params. The defaults are the live
    pipeline; the end-to-end tests point a run at their own Variables, connections, topics and
    warehouse, and replay another time on the simulator's virtual clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config_variable: str = CONFIG_VARIABLE
    ledger_variable: str = QUOTA_LEDGER_VARIABLE
    alphavantage_conn_id: str = ALPHAVANTAGE_CONN_ID
    warehouse_conn_id: str = WAREHOUSE_CONN_ID
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


def default_config() -> PipelineConfig:
    """The configuration the stack seeds the Variable with: the one source of every default."""
    return PipelineConfig.model_validate(json.loads(VARIABLES_FILE.read_text())[CONFIG_VARIABLE])


def load_config(variable: str = CONFIG_VARIABLE) -> PipelineConfig:
    """Read and validate the Variable (inside a task: never at DAG parse time)."""
    from airflow.sdk import Variable

    return PipelineConfig.model_validate(Variable.get(variable, deserialize_json=True))
