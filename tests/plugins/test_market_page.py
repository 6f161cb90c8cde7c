"""The market page in a real browser (Debian's chromium driven by Playwright) against a real
api-server: logged in, the chart and the figures are there; logged out, the page is refused.

The test starts its own api-server, with the `warehouse_reader` connection pointed at the test
database holding the reporting fixture, so what the page shows is known. The screenshots are
kept in test-artifacts/."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from harness.services import free_port
from harness.waits import wait_for
from market_pipeline import warehouse
from market_pipeline.fetch.live import fetch_state_rows
from market_pipeline.fetch.quota import Ledger
from market_pipeline.in_airflow import connections
from market_pipeline.in_airflow.airflow_api import admin_login
from market_pipeline.settings import PROJECT_ROOT, STATE_DIR
from tests.conftest import TEST_DATABASE
from tests.integration.reporting_fixture import load_bars, watchlist_config

pytestmark = pytest.mark.integration

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def load_operations(uri: str) -> None:
    """Today's quota, a lag and a quarantined record beside the fixture's bars."""
    now = datetime.now(UTC)
    config = watchlist_config("TST", "AVG")
    warehouse.record_fetch_state(uri, fetch_state_rows(config, Ledger(), now))
    warehouse.record_api_calls(uri, {"dag_id": "d", "run_id": "r", "try_number": 1}, [
        {"requested_at": now, "function": "TIME_SERIES_INTRADAY", "symbol": "TST", "month": None,
         "entitlement": "none", "outcome": "ok", "http_status": 200, "bars": 100}] * 3)
    warehouse.record_topic_lag(uri, [{"query_name": "bars_to_warehouse", "topic": "market.bars.intraday",
                                      "partition": 0, "end_offset": 57, "committed_offset": 15, "checked_at": now}])
    with warehouse.transaction(uri) as conn:
        conn.execute("INSERT INTO market.quarantine (source_topic, source_partition, source_offset, message_key,"
                     " raw_value, reason) VALUES ('market.bars.intraday', 1, 9, 'TST', '{}',"
                     " 'high 9.5 is below open/close')")
    warehouse.refresh_reporting(uri)


@pytest.fixture(scope="module")
def page_server(test_warehouse_uri: str):
    """An api-server of the stack's Airflow whose market page reads the test database."""
    load_bars(test_warehouse_uri)
    load_operations(test_warehouse_uri)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ,
           "AIRFLOW_CONN_WAREHOUSE_READER": warehouse.with_database(connections.warehouse_uri("warehouse_reader"),
                                                                    TEST_DATABASE),
           "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": base_url}
    log = (STATE_DIR / "logs" / "test-api-server.log").open("w")
    server = subprocess.Popen(["airflow", "api-server", "--host", "127.0.0.1", "--port", str(port), "--apps", "core"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            assert server.poll() is None, f"the api-server exited; see {log.name}"
            try:
                return requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(healthy, 120, f"the api-server did not answer in 120 s; see {log.name}")
        yield base_url
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_logged_out_the_page_is_refused(page_server, browser):
    assert requests.get(f"{page_server}/market/", timeout=10).status_code == 401
    assert requests.get(f"{page_server}/market/plotly.min.js", timeout=10).status_code == 401
    forged = requests.get(f"{page_server}/market/", cookies={"_token": "not-a-token"}, timeout=10)
    assert forged.status_code in (401, 403)
    page = browser.new_page()
    page.goto(f"{page_server}/market/")
    page.wait_for_url("**/auth/login/**")  # a browser is sent to Airflow's login instead
    expect(page.locator("input[name=username]")).to_be_visible()
    assert page.locator("#price-chart").count() == 0
    page.close()


def test_logged_in_the_page_shows_the_chart_and_the_figures_inside_the_airflow_ui(page_server, browser):
    username, password = admin_login()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{page_server}/auth/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/auth/login" not in url)

    page.goto(f"{page_server}/plugin/market-data")  # the UI's own route for the navigation entry
    market = page.frame_locator("iframe")
    expect(market.locator("#price-chart .main-svg").first).to_be_visible(timeout=30_000)  # drawn by plotly.js
    # By default: the first symbol, the five days up to its newest bar (AVG's is on 2026-11-30), split-adjusted.
    expect(market.locator("h2").first).to_contain_text(
        "AVG, 2026-11-25 to 2026-11-30, split-adjusted to the latest basis (intraday bars)")
    expect(market.locator("#quota-tile")).to_contain_text("3 / 25")
    expect(market.locator("#quota-tile")).to_contain_text("22 left")
    expect(market.locator("#lag-tile")).to_contain_text("42")
    expect(market.locator("#freshness")).to_contain_text("2026-11-27 16:55:00")
    expect(market.locator("#quarantine")).to_contain_text("high 9.5 is below open/close")
    candles = market.locator("#price-chart .trace.boxes, #price-chart g.candlestick")
    assert candles.count() >= 1
    print(f"screenshot: {screenshot(page, 'market-page-in-airflow-ui')}")

    # A long range switches to daily candles with the day averages.
    page.goto(f"{page_server}/market/?symbol=AVG&start=2026-01-01&end=2026-11-30")
    expect(page.locator("h2").first).to_contain_text("daily candles")
    expect(page.locator("#price-chart .legendtext", has_text="MA 200 days")).to_have_count(1)
    print(f"screenshot: {screenshot(page, 'market-page-daily')}")

    # The basis is the form's choice and is named on the chart.
    page.select_option("select[name=basis]", "traded")
    page.click("button[type=submit]")
    expect(page.locator("h2").first).to_contain_text("as traded (daily candles")
    expect(page.locator("#price-chart .ytitle", has_text="price (USD, as traded)")).to_have_count(1)
    expect(page.locator("#price-chart .legendtext", has_text="MA 200 days")).to_have_count(0)
    page.close()
