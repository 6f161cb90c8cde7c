"""A premium key's watchlist of 100 symbols, run by Airflow's scheduler on the test stack: the
fetch keeps several requests in flight within the key's per-second and per-minute limits, the
simulator (which throttles any burst over them) throttles none, and every symbol's bars reach
the warehouse through Kafka and Spark. The run starts from a ledger in the format written
before the symbols moved to the warehouse, so the same run proves that move loses nothing."""

import json
from datetime import UTC, datetime

import pytest

from harness.sandbox import airflow_with, run_dag, sandbox
from harness.warehouse import fetch_all
from market_pipeline.settings import FETCH_SUMMARY_XCOM_KEY
from market_pipeline.simulator import SimulatorOptions, market
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.live_dag]
DAG_ID = "market_bars_pipeline"
WATCHLIST = market.universe(100)
# A premium plan: 1,200 requests a minute, bursts of 20 a second, no daily cap.
PREMIUM = {"per_day": None, "per_minute": 1200, "per_second": 20}
# What a ledger of the old format held for two symbols: a watermark, a flag, months loaded.
OLD_WATERMARK = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
LEGACY_LEDGER = {
    "day": "2026-11-24", "calls_today": 7, "recent_calls": [], "symbols": {
        WATCHLIST[0]: {"watermark": OLD_WATERMARK.isoformat(), "last_fetch_at": "2026-11-24T14:40:00Z",
                       "months": {"2024-11": {"run_id": "backfill__2024-11-01", "clear_number": 0, "bars": 3804,
                                              "loaded_at": "2026-11-20T10:00:00Z", "as_traded": True},
                                  "2020-08": {"run_id": "backfill__2020-08-01", "clear_number": 1, "bars": 3900,
                                              "loaded_at": "2026-11-01T10:00:00Z"}}},
        "DELISTED": {"flagged": "Invalid API call", "months": {}},
    }}


@pytest.fixture(scope="module")
def api_for_dag():
    return airflow_with(DAG_ID)


@pytest.fixture(scope="module")
def premium_run(api_for_dag, kafka_bootstrap, test_warehouse_uri):
    options = SimulatorOptions(key_entitlement="realtime", **PREMIUM)
    with sandbox(api_for_dag, kafka_bootstrap, test_warehouse_uri, start=TRADING_MORNING, options=options,
                 watchlist=WATCHLIST, entitlement="realtime", quota=PREMIUM) as box:
        api_for_dag.set_variable(box.target.ledger_variable, json.dumps(LEGACY_LEDGER))
        run_id, run, states = run_dag(api_for_dag, DAG_ID, box.target)
        yield box, run_id, run, states


def test_a_hundred_symbols_are_fetched_within_the_limits_and_all_reach_the_warehouse(api_for_dag, premium_run):
    box, run_id, run, states = premium_run
    assert run["state"] == "success", states
    summary = api_for_dag.xcom(DAG_ID, run_id, "fetch_bars", FETCH_SUMMARY_XCOM_KEY)
    assert sorted(summary["planned"]) == sorted(WATCHLIST) and not summary["deferred"] and not summary["failed"]
    assert box.simulator.throttled_answers == 0
    assert summary["calls"] == box.simulator.requests_served == len(WATCHLIST)
    loaded = dict(fetch_all(box.warehouse_uri, "SELECT symbol, count(*) FROM market.bars GROUP BY symbol"))
    assert set(loaded) == set(WATCHLIST), "every symbol has its bars"
    assert sum(loaded.values()) == summary["bars_published"]


def test_the_old_ledger_loses_no_watermark_and_no_month(premium_run):
    box, *_ = premium_run
    with box.ledger_store() as store:
        ledger = store.load(months=["2024-11", "2020-08"])
    assert "symbols" not in box.api.variable(box.target.ledger_variable), "the Variable keeps only the counters"
    assert ledger.calls_today == 7 + len(WATCHLIST)
    first = ledger.symbol(WATCHLIST[0])
    assert first.watermark > OLD_WATERMARK, "moved on from the old watermark by this run"
    assert first.months["2024-11"].bars == 3804 and first.months["2024-11"].as_traded
    assert first.months["2020-08"].clear_number == 1 and first.months["2020-08"].stored_adjusted
    assert ledger.symbol("DELISTED").flagged == "Invalid API call"
