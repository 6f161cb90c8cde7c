"""History across corporate actions, end to end: Airflow backfills of market_bars_history, a live
run and a market_corporate_actions run, executed by the real scheduler against Kafka, Spark and
Postgres in sandboxes whose simulator trades the real splits and deterministic dividends.

The warehouse stores what traded; the reporting layer adjusts with the actions as of now. So the
split-adjusted and total-return series must equal what the simulator's `adjusted=true` answers
today, bar for bar, whenever each month was fetched."""

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from harness.backfills import HISTORY, backfill, forget_runs
from harness.sandbox import Sandbox, airflow_with, run_dag
from harness.warehouse import fetch_all
from market_pipeline.bars import validate_series
from market_pipeline.in_airflow.airflow_api import AirflowApi
from market_pipeline.simulator import market
from market_pipeline.trading_calendar import EASTERN, month_days
from tests.conftest import TRADING_MORNING

pytestmark = [pytest.mark.integration, pytest.mark.history_dag]
LIVE = "market_bars_pipeline"
ACTIONS = "market_corporate_actions"
PRICES = ("open", "high", "low", "close")
# The reply rounds to four decimals, the warehouse to six: half a tick, plus half a millionth.
REPLY_PRECISION = Decimal("0.0000505")


@pytest.fixture(scope="module")
def api() -> AirflowApi:
    api = airflow_with(HISTORY, LIVE, ACTIONS)
    api.unpause(LIVE)  # before any test may read its paused flag to restore it: see tests/conftest.py
    yield api
    api.pause(HISTORY)
    api.pause(ACTIONS)


def stored_series(box: Sandbox, symbol: str) -> dict[datetime, dict]:
    """The symbol's bars in reporting.fact_bars by bar start (UTC): as traded, *_adj and *_tr."""
    columns = [*PRICES, "volume", *(f"{p}_adj" for p in PRICES), "volume_adj", *(f"{p}_tr" for p in PRICES)]
    rows = fetch_all(box.warehouse_uri, f"SELECT bar_time_utc, {', '.join(columns)} FROM reporting.fact_bars"
                                        " WHERE symbol = %(symbol)s ORDER BY bar_time_utc", {"symbol": symbol})
    return {moment: dict(zip(columns, values, strict=True)) for moment, *values in rows}


def traded_bars(symbol: str, months: list[str]) -> dict[datetime, market.SimBar]:
    """What the simulator traded in these months, by bar start (UTC)."""
    return {bar.start.astimezone(UTC): bar for month in months for day in market.trading_days(*month_days(month))
            for bar in market.day_bars(symbol, "5min", day, True)}


def adjusted_reply(box: Sandbox, symbol: str, **query) -> dict[datetime, tuple]:
    """The simulator's own `adjusted=true` (the API's default) reply now, by bar start (UTC)."""
    time.sleep(1.1)  # the key allows about one request a second
    bars, rejected = validate_series(box.client().intraday(symbol, "5min", outputsize="full", **query),
                                     datetime.now(UTC))
    assert not rejected
    return {bar.bar_time: (bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars}


def as_traded(row: dict) -> tuple:
    return tuple(row[name] for name in (*PRICES, "volume"))


def run_succeeds(api: AirflowApi, dag_id: str, box: Sandbox) -> None:
    _, run, states = run_dag(api, dag_id, box.target)
    assert run["state"] == "success", (dag_id, states)


def test_a_backfill_across_a_split_stores_what_traded_and_adjusts_without_a_seam(api, free_tier_sandbox, capsys):
    box = free_tier_sandbox("none", start=TRADING_MORNING, watchlist=["TSLA"])
    forget_runs(api, "2020-07-01", "2020-09-30")
    runs = backfill(api, box.target, "2020-07-01", "2020-09-30")
    assert [run["state"] for run in runs] == ["success"] * 3, runs
    run_succeeds(api, LIVE, box)  # today's bars, on the latest basis
    run_succeeds(api, ACTIONS, box)

    stored = stored_series(box, "TSLA")
    history = traded_bars("TSLA", ["2020-07", "2020-08", "2020-09"])
    live = {moment: row for moment, row in stored.items() if moment.year == 2026}
    assert set(stored) == set(history) | set(live) and live, "every bar of the three months, and today's"
    assert {moment: as_traded(stored[moment]) for moment in history} == {
        moment: (bar.open, bar.high, bar.low, bar.close, bar.volume) for moment, bar in history.items()}, \
        "market.bars holds the prices as the simulator traded them"

    # As traded, TSLA opened 2020-08-31 about a fifth of its 2020-08-28 close: the 5-for-1 split.
    before_split = max(moment for moment in history if moment.astimezone(EASTERN).date() < date(2020, 8, 31))
    after_split = min(moment for moment in history if moment.astimezone(EASTERN).date() == date(2020, 8, 31))
    traded_jump = stored[after_split]["open"] / stored[before_split]["close"]
    adjusted_jump = stored[after_split]["open_adj"] / stored[before_split]["close_adj"]
    assert 0.18 < traded_jump < 0.22 and 0.95 < adjusted_jump < 1.05, (traded_jump, adjusted_jump)

    # Split-adjusted equals the simulator's adjusted reply today (both splits: 15 to 1 before 2020-08-31).
    reply = adjusted_reply(box, "TSLA", month="2020-07") | adjusted_reply(box, "TSLA", month="2020-08") \
        | adjusted_reply(box, "TSLA", month="2020-09") | adjusted_reply(box, "TSLA")
    compared = [moment for moment in stored if moment in reply]
    assert set(history) <= set(compared) and len(compared) > len(history), "history and live bars compared"
    worst = max(abs(stored[moment][f"{price}_adj"] - reply[moment][i])
                for moment in compared for i, price in enumerate(PRICES))
    assert worst <= Decimal("0.000001"), worst
    assert all(stored[moment]["volume_adj"] == reply[moment][4] for moment in compared)
    assert all(stored[moment]["close_tr"] == stored[moment]["close_adj"] for moment in compared), \
        "TSLA pays no dividend"
    with capsys.disabled():
        print(f"\nTSLA 2020-07..09 + live: {len(compared)} bars; 08-28 close -> 08-31 open as traded x"
              f"{traded_jump:.4f}, split-adjusted x{adjusted_jump:.4f}; worst |adjusted - reply| {worst}")


def test_a_dividend_between_two_history_fetches_leaves_one_basis_and_a_continuous_total_return(
        api, free_tier_sandbox, capsys):
    # MSFT goes ex on Mon 2026-08-17. July is fetched on 08-05, before it; August on 09-01, after it.
    # Fetched adjusted, July would be on the old basis and August on the new: a seam at 08-01.
    box = free_tier_sandbox("none", start=datetime(2026, 8, 5, 16, 0, tzinfo=UTC), watchlist=["MSFT"])
    forget_runs(api, "2026-07-01", "2026-08-31")
    assert [run["state"] for run in backfill(api, box.target, "2026-07-01", "2026-07-31")] == ["success"]
    box.advance(timedelta(days=27))
    assert [run["state"] for run in backfill(api, box.target, "2026-08-01", "2026-08-31")] == ["success"]
    run_succeeds(api, ACTIONS, box)

    assert fetch_all(box.warehouse_uri, "SELECT ex_dividend_date FROM market.dividends"
                                        " WHERE ex_dividend_date >= '2026-07-01'") == [(date(2026, 8, 17),)]
    stored = stored_series(box, "MSFT")
    traded = traded_bars("MSFT", ["2026-07", "2026-08"])
    assert {moment: as_traded(row) for moment, row in stored.items()} == {
        moment: (bar.open, bar.high, bar.low, bar.close, bar.volume) for moment, bar in traded.items()}, \
        "both months as traded, whichever side of the ex-date they were fetched on"

    # One dividend factor for every bar before the ex-date, none after: no step at the month boundary.
    def factors(before_ex_date: bool) -> set[Decimal]:
        return {round(row["close_tr"] / row["close"], 6) for moment, row in stored.items()
                if (moment.astimezone(EASTERN).date() < date(2026, 8, 17)) == before_ex_date}

    assert factors(before_ex_date=False) == {1}
    assert len(factors(before_ex_date=True)) == 1, factors(before_ex_date=True)
    (factor,) = factors(before_ex_date=True)
    assert Decimal("0.99") < factor < 1, factor

    reply = adjusted_reply(box, "MSFT", month="2026-07") | adjusted_reply(box, "MSFT", month="2026-08")
    assert set(reply) == set(stored)
    worst = max(abs(stored[moment][f"{price}_tr"] - reply[moment][i])
                for moment in stored for i, price in enumerate(PRICES))
    assert worst <= REPLY_PRECISION, f"total return differs from the adjusted reply by {worst}"
    july_last = max(moment for moment in stored if moment.month == 7)
    august_first = min(moment for moment in stored if moment.month == 8)
    boundary = stored[august_first]["open_tr"] / stored[july_last]["close_tr"]
    assert float(boundary) == pytest.approx(float(reply[august_first][0] / reply[july_last][3]), abs=1e-6), \
        "the month boundary as the API adjusts it"
    with capsys.disabled():
        print(f"\nMSFT 2026-07 (fetched 08-05) + 2026-08 (fetched 09-01), ex-date 08-17: {len(stored)} bars, "
              f"dividend factor {factor}, worst |total return - reply| {worst}")
