"""`python -m market_pipeline.cli chart`: a PNG of each symbol's recent sessions, read as market_reader."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib.image
import pytest

from market_pipeline import warehouse
from market_pipeline.in_airflow import connections
from tests.conftest import TEST_DATABASE
from tests.integration.reporting_fixture import load_bars

pytestmark = pytest.mark.integration


def test_chart_draws_each_symbol_s_latest_sessions_bar_after_bar(test_warehouse_uri, tmp_path):
    load_bars(test_warehouse_uri)
    output = tmp_path / "prices.png"
    reader = warehouse.with_database(connections.warehouse_uri("warehouse_reader"), TEST_DATABASE)
    done = subprocess.run(
        [sys.executable, "-m", "market_pipeline.cli", "chart", "--output", str(output), "--sessions", "3"],
        env={**os.environ, "AIRFLOW_CONN_WAREHOUSE_READER": reader}, capture_output=True, text=True, check=True)
    # TST's last 3 sessions: 03-09 (4 bars), 11-25 (1), 11-27 (4); AVG has one bar a session.
    assert done.stdout.splitlines()[:2] == ["AVG     3 sessions, 3 bars", "TST     3 sessions, 9 bars"]
    image = matplotlib.image.imread(output)
    height, width, _ = image.shape
    assert width == 1210 and height == 572, "two panels, one per symbol"
    assert (image[:, :, :3] < 0.5).any(axis=2).sum() > 1000, "lines and labels were drawn"
