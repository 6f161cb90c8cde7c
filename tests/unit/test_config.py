"""The `market_data_config` Variable: the seed file is valid, and mistakes name their field."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.settings import CONFIG_VARIABLE, PROJECT_ROOT

SEED = json.loads((Path(PROJECT_ROOT) / "config" / "airflow_variables.json").read_text())[CONFIG_VARIABLE]


def test_seed_file_runs_the_demo_on_the_free_tier():
    config = PipelineConfig.model_validate(SEED)
    assert config.watchlist == ["TSLA", "MSFT", "GOOGL"]
    assert config.quota.limits().per_day == 25
    assert config.entitlement == "none", "a free key gets end-of-day data"


def test_a_variable_from_before_entitlements_still_validates_as_a_free_key():
    older = {key: value for key, value in SEED.items() if key != "entitlement"}
    assert PipelineConfig.model_validate(older).entitlement == "none"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interval": "2min"}, "interval"),
        ({"outputsize": "huge"}, "outputsize"),
        ({"watchlist": []}, "watchlist"),
        ({"quota": {**SEED["quota"], "per_day": 0}}, "quota.per_day"),
        ({"watchlst": ["MSFT"]}, "watchlst"),
        ({"entitlement": "premium"}, "entitlement"),
    ],
)
def test_should_name_the_field_of_a_mistake(change, field):
    with pytest.raises(ValidationError) as raised:
        PipelineConfig.model_validate({**SEED, **change})
    assert field in str(raised.value)


def test_should_normalise_symbols():
    assert PipelineConfig.model_validate({**SEED, "watchlist": [" msft "]}).watchlist == ["MSFT"]


def test_run_target_defaults_to_the_live_pipeline_and_keeps_replays_off_the_live_ledger():
    from market_pipeline.in_airflow.params import RunTarget, run_params
    from market_pipeline.settings import BARS_TOPIC, QUOTA_LEDGER_VARIABLE

    live = RunTarget.model_validate({name: param.value for name, param in run_params().items()})
    assert live == RunTarget() and live.bars_topic == BARS_TOPIC and live.clock_offset_seconds == 0
    with pytest.raises(ValidationError, match="own ledger_variable"):
        RunTarget(clock_offset_seconds=-3600, ledger_variable=QUOTA_LEDGER_VARIABLE)
    replay = RunTarget(clock_offset_seconds=-3600, ledger_variable="replay_ledger")
    assert abs(replay.now() - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=5)
    reset = datetime(2026, 11, 25, tzinfo=UTC)
    assert replay.wall_time(reset) == reset + timedelta(hours=1)
