"""History through Airflow's own backfill, executed by the real scheduler and triggerer against
Kafka, Spark and Postgres, in sandboxes (`harness.sandbox.sandbox`) whose simulator
runs on a virtual clock."""

from datetime import UTC, date, datetime

import pytest

from harness.backfills import HISTORY, backfill, forget_runs, start_backfill, wait_for_backfill
from harness.sandbox import airflow_with, run_dag, sandbox
from harness.warehouse import fetch_all
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.simulator import SimulatorOptions, market
from market_pipeline.trading_calendar import month_days
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.history_dag]
LIVE = "market_bars_pipeline"
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]
FIRST_QUARTER_2024 = ("2024-01-01", "2024-03-31")
SECOND_HALF_2023 = ("2023-07-01", "2023-09-30")


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    api = airflow_with(HISTORY, LIVE)
    api.unpause(LIVE)  # before any test may read its paused flag to restore it: see tests/conftest.py
    yield api
    api.pause(HISTORY)  # the live DAG stays unpaused: other groups' runs may be queued on it


def month_bars(months: list[str]) -> set[tuple[str, datetime]]:
    keys = set()
    for month in months:
        for day in market.trading_days(*month_days(month)):
            for symbol in WATCHLIST:
                keys.update((symbol, bar.start.astimezone(UTC)) for bar in market.day_bars(symbol, "5min", day, True))
    return keys


def warehouse_keys(uri: str) -> tuple[int, set]:
    rows = fetch_all(uri, "SELECT symbol, bar_time FROM market.bars")
    return len(rows), set(rows)


@pytest.fixture(scope="module")
def free_key(free_tier_sandbox):
    return free_tier_sandbox("none", start=TRADING_MORNING, watchlist=WATCHLIST)


@pytest.fixture(scope="module")
def first_quarter(api, free_key) -> list:
    forget_runs(api, *FIRST_QUARTER_2024)
    return backfill(api, free_key.target, *FIRST_QUARTER_2024)


def test_a_backfill_loads_every_bar_of_three_months_exactly_once(api, free_key, first_quarter, capsys):
    runs = first_quarter
    assert sorted(run["data_interval_start"][:7] for run in runs) == ["2024-01", "2024-02", "2024-03"]
    assert all(run["state"] == "success" for run in runs)
    expected = month_bars(["2024-01", "2024-02", "2024-03"])
    rows, keys = warehouse_keys(free_key.warehouse_uri)
    assert keys == expected and rows == len(expected)
    calls = fetch_all(free_key.warehouse_uri, "SELECT month, symbol, outcome FROM market.api_calls ORDER BY 1, 2")
    assert sorted(calls) == sorted((m, s, "ok") for m in ("2024-01", "2024-02", "2024-03") for s in WATCHLIST)
    with capsys.disabled():
        print(f"\nbackfill 2024-01..2024-03, 3 symbols: {len(calls)} requests, {rows} bars, "
              f"throttled={free_key.simulator.throttled_answers}")

    served = free_key.simulator.requests_served
    backfill(api, free_key.target, *FIRST_QUARTER_2024)  # default reprocess behaviour: none
    assert free_key.simulator.requests_served == served, "a second backfill makes no API call"

    backfill(api, free_key.target, "2024-02-01", "2024-02-29", reprocess_behavior="completed")
    assert free_key.simulator.requests_served == served + 3, "reprocessing a month fetches it again"
    assert warehouse_keys(free_key.warehouse_uri) == (rows, expected)


def test_a_live_run_and_a_backfill_never_drain_at_once(api, free_key, first_quarter):
    box = free_key
    forget_runs(api, "2024-04-01", "2024-05-31")
    started = start_backfill(api, box.target, "2024-04-01", "2024-05-31")
    run_id, run, states = run_dag(api, LIVE, box.target)
    backfill_runs = wait_for_backfill(api, started)
    assert run["state"] == "success" and states["drain_to_warehouse"] in ("success", "skipped"), states
    assert all(r["state"] == "success" for r in backfill_runs)

    drains = [_drain_interval(api, LIVE, run_id)] + [_drain_interval(api, HISTORY, r["dag_run_id"])
                                                     for r in backfill_runs]
    drains = sorted(d for d in drains if d is not None)
    assert len(drains) >= 2
    for (_, earlier_end), (later_start, _) in zip(drains, drains[1:], strict=False):
        assert earlier_end <= later_start, f"two drains overlapped: {drains}"

    live = {(symbol, bar.start.astimezone(UTC)) for symbol in WATCHLIST for bar in market.intraday_bars(
        symbol, "5min", datetime(2026, 11, 24, 1, 0, tzinfo=UTC), outputsize="full")}
    expected = month_bars(["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]) | live
    assert warehouse_keys(box.warehouse_uri) == (len(expected), expected)


def _drain_interval(api: AirflowApi, dag_id: str, run_id: str) -> tuple[str, str] | None:
    ti = api.call("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/drain_to_warehouse")
    return (ti["start_date"], ti["end_date"]) if ti["state"] == "success" else None


def test_a_backfill_larger_than_the_budget_defers_until_the_reset(api, kafka_bootstrap, test_warehouse_uri,
                                                                  capsys):
    # Eight requests a day, three kept for the live fetch: five a day for nine symbol-months.
    options = SimulatorOptions(per_second=1, per_minute=None, per_day=8, key_entitlement="none")
    quota = {"per_day": 8, "per_minute": None, "per_second": 1}
    # The five requests before it took 20-35 s (two month tasks) with the other groups running.
    before_midnight = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    with sandbox(api, kafka_bootstrap, test_warehouse_uri, start=before_midnight, options=options,
                 watchlist=WATCHLIST, entitlement="none", quota=quota) as box:
        forget_runs(api, *SECOND_HALF_2023)
        states_seen: set = set()
        runs = wait_for_backfill(api, start_backfill(api, box.target, *SECOND_HALF_2023), seen=states_seen)

        assert all(run["state"] == "success" for run in runs), runs
        assert "deferred" in states_seen, "the fetch waited for the reset as a deferred task"
        per_day = fetch_all(box.warehouse_uri, "SELECT (requested_at AT TIME ZONE 'UTC')::date, count(*), "
                                               "count(*) FILTER (WHERE outcome <> 'ok') FROM market.api_calls "
                                               "GROUP BY 1 ORDER BY 1")
        with capsys.disabled():
            print(f"\nbackfill of 9 symbol-months at 8 requests a day: {per_day} (day, requests, not ok); "
                  f"throttled={box.simulator.throttled_answers}")
        assert [day for day, _, _ in per_day] == [date(2026, 11, 24), date(2026, 11, 25)]
        assert all(requests <= 8 - len(WATCHLIST) for _, requests, _ in per_day), "the live reserve is untouched"
        assert all(not_ok == 0 for _, _, not_ok in per_day) and box.simulator.throttled_answers == 0
        expected = month_bars(["2023-07", "2023-08", "2023-09"])
        assert warehouse_keys(box.warehouse_uri) == (len(expected), expected)
