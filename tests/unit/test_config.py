"""The `market_data_config` Variable: the seed file is valid, and mistakes name their field."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from market_pipeline.config import PipelineConfig
from market_pipeline.settings import CONFIG_VARIABLE, PROJECT_ROOT

SEED = json.loads((Path(PROJECT_ROOT) / "config" / "airflow_variables.json").read_text())[CONFIG_VARIABLE]


def test_seed_file_runs_the_demo_on_the_free_tier():
    config = PipelineConfig.model_validate(SEED)
    assert config.watchlist == ["TSLA", "MSFT", "GOOGL"]
    assert config.quota.limits().per_day == 25


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interval": "2min"}, "interval"),
        ({"outputsize": "huge"}, "outputsize"),
        ({"watchlist": []}, "watchlist"),
        ({"quota": {**SEED["quota"], "per_day": 0}}, "quota.per_day"),
        ({"watchlst": ["MSFT"]}, "watchlst"),
    ],
)
def test_should_name_the_field_of_a_mistake(change, field):
    with pytest.raises(ValidationError) as raised:
        PipelineConfig.model_validate({**SEED, **change})
    assert field in str(raised.value)


def test_should_normalise_symbols():
    assert PipelineConfig.model_validate({**SEED, "watchlist": [" msft "]}).watchlist == ["MSFT"]
