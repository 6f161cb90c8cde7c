"""What a user tunes at run time: the `market_data_config` Airflow Variable's model (read in a
task by `market_pipeline.in_airflow.params.load_config`).

`config/airflow_variables.json` seeds the Variable at `bin/stack start` (only
when it does not exist yet, so edits made in the UI survive restarts); the
model here validates it, so a typo fails the task with the field's name.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from market_pipeline.fetch.alphavantage import Interval, OutputSize
from market_pipeline.fetch.quota import QuotaLimits
from market_pipeline.settings import (
    CONFIG_VARIABLE,
    VARIABLES_FILE,
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
    """What the freshness watchdog tolerates (market_pipeline.reporting.freshness)."""

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
    # Where the drain's Spark runs: `connect`, a session on the stack's long-lived Spark Connect
    # server (connection spark_connect_default); `per_run`, a Spark started by each drain's
    # spark-submit on spark_default's master (17-27 s of start-up on 2 cores).
    drain_session: Literal["connect", "per_run"] = "connect"
    freshness: FreshnessConfig = FreshnessConfig()

    @field_validator("watchlist")
    @classmethod
    def _symbols_upper(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value]


def default_config() -> PipelineConfig:
    """The configuration the stack seeds the Variable with: the one source of every default."""
    return PipelineConfig.model_validate(json.loads(VARIABLES_FILE.read_text())[CONFIG_VARIABLE])
