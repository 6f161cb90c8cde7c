"""The live-stack check (`tests.isolation.live_stack.differences`): what the suite may not change,
and what the live stack's own schedule may."""

import copy

import pytest

from market_pipeline.settings import QUOTA_LEDGER_VARIABLE
from tests.isolation.live_stack import differences

LIVE = "market_bars_pipeline"


@pytest.fixture
def before() -> dict:
    return {
        "running": True, "checkpoints": ["bars_to_warehouse"],
        "airflow": {"paused": {LIVE: False, "market_bars_history": True},
                    "runs": {LIVE: {"manual__demo": "manual", "scheduled__1": "scheduled"}}, "backfills": 0,
                    "variables": {"market_data_config": "{}", QUOTA_LEDGER_VARIABLE: '{"calls_today": 3}'},
                    "pools": {"alphavantage_api": 1}, "connections": []},
        "kafka": {"market.bars.intraday": 300},
        "warehouse": {"databases": ["airflow", "market_data"], "tables": ["market.bars"],
                      "drain_queries": ["bars_to_warehouse"], "api_calls": {f"{LIVE} manual__demo": 3}, "bars": 300},
    }


def test_an_identical_snapshot_differs_in_nothing(before):
    assert differences(before, copy.deepcopy(before)) == []


def test_the_live_schedule_may_add_runs_that_fetch_and_publish(before):
    after = copy.deepcopy(before)
    after["airflow"]["runs"][LIVE]["scheduled__2"] = "scheduled"
    after["warehouse"]["api_calls"][f"{LIVE} scheduled__2"] = 3
    after["airflow"]["variables"][QUOTA_LEDGER_VARIABLE] = '{"calls_today": 6}'
    after["kafka"]["market.bars.intraday"] = 600
    after["warehouse"]["bars"] = 600
    assert differences(before, after) == []


@pytest.mark.parametrize("change, expected", [
    (lambda s: s["airflow"]["runs"][LIVE].update({"manual__test": "manual"}), "run manual__test of market_bars_pipe"),
    (lambda s: s["airflow"]["runs"].update({"market_bars_history": {"backfill__2024-01": "backfill"}}),
     "run backfill__2024-01 of market_bars_history added"),
    (lambda s: s["airflow"]["runs"][LIVE].pop("manual__demo"), "runs of market_bars_pipeline deleted"),
    (lambda s: s["airflow"]["paused"].update({"market_bars_history": False}), "paused DAGs: market_bars_history"),
    (lambda s: s["airflow"]["variables"].update({"quota_ledger_1234": "{}"}), "Variables: quota_ledger_1234"),
    (lambda s: s["airflow"]["variables"].update({QUOTA_LEDGER_VARIABLE: "{}"}), "Variables: alphavantage_quota"),
    (lambda s: s["airflow"]["pools"].update({"alphavantage_api": 2}), "pools: alphavantage_api"),
    (lambda s: s["airflow"]["connections"].append("smtp_default"), "connections"),
    (lambda s: s["kafka"].update({"sandbox.bars.1234": 0}), "Kafka topics"),
    (lambda s: s["warehouse"]["drain_queries"].append("sandbox_1234"), "warehouse drain_queries"),
    (lambda s: s["warehouse"]["api_calls"].update({"market_bars_pipeline manual__test": 1}),
     "API calls on the live key by runs that are not the live schedule's"),
    (lambda s: s["checkpoints"].append("sandbox_1234"), "checkpoints"),
])
def test_anything_else_is_a_difference(before, change, expected):
    after = copy.deepcopy(before)
    change(after)
    found = differences(before, after)
    assert any(expected in line for line in found), found


def test_a_scheduled_run_of_a_dag_the_suite_unpaused_is_not_the_live_schedule(before):
    after = copy.deepcopy(before)
    after["airflow"]["paused"]["market_bars_history"] = False
    after["airflow"]["runs"]["market_bars_history"] = {"scheduled__2026-11": "scheduled"}
    found = differences(before, after)
    assert any("run scheduled__2026-11 of market_bars_history added" in line for line in found), found
