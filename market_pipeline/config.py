"""What a user tunes at run time, from the `market_data_config` Airflow Variable.

`config/airflow_variables.json` seeds the Variable at `bin/stack start` (only
when it does not exist yet, so edits made in the UI survive restarts); the
model here validates it, so a typo fails the task with the field's name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from market_pipeline.alphavantage import Interval, OutputSize
from market_pipeline.quota import QuotaLimits
from market_pipeline.settings import CONFIG_VARIABLE


class QuotaConfig(BaseModel):
    """The API key's limits: the free tier is 25 a day and about 1 a second; premium keys set
    per_day to null and per_minute to their plan's figure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_day: int | None = Field(gt=0)
    per_minute: int | None = Field(gt=0)
    per_second: float = Field(gt=0)

    def limits(self) -> QuotaLimits:
        return QuotaLimits(per_day=self.per_day, per_minute=self.per_minute, per_second=self.per_second)


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist: list[str] = Field(min_length=1)
    interval: Interval
    outputsize: OutputSize
    extended_hours: bool
    # Fetch even while the market is closed (costs calls; for catching up and demos).
    fetch_when_closed: bool
    quota: QuotaConfig
    max_offsets_per_trigger: int = Field(gt=0)

    @field_validator("watchlist")
    @classmethod
    def _symbols_upper(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value]


def load_config() -> PipelineConfig:
    """Read and validate the Variable (inside a task: never at DAG parse time)."""
    from airflow.sdk import Variable

    return PipelineConfig.model_validate(Variable.get(CONFIG_VARIABLE, deserialize_json=True))
