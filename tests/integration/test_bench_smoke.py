"""A quick smoke of the benchmarks: they run and report a figure per path (no timing is asserted)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_sink_write_path_benchmark_reports_every_path():
    result = subprocess.run([sys.executable, str(BENCH / "sink_write_path.py"), "--rows", "400", "--repeat", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for path in ("copy_upsert", "batched_upsert", "spark_jdbc_upsert"):
        assert re.search(rf"^{path}\s+\d+\s+\d+$", result.stdout, re.MULTILINE), result.stdout
