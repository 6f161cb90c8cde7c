"""A quick smoke of the benchmarks: they run, check their tables as exact and report every figure.
No time is ever asserted: the figures depend on the machine and on what runs beside."""

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bench.generate import INTERVAL, generate, message, price
from bench.history_report import PAGE_QUERIES, PLOT
from bench.history_report import ROWS as HISTORY_ROWS
from bench.report import (
    BEGIN,
    END,
    FIGURES,
    HISTORY_BEGIN,
    HISTORY_END,
    SCALE_BEGIN,
    SCALE_END,
    SESSION_FIGURES,
    SESSIONS,
    TARGETS,
    figure_keys,
)
from bench.scale import PLANS as SCALE_PLANS
from bench.scale_report import PLOT as SCALE_PLOT
from market_pipeline.bars import Bar

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def test_sink_write_path_benchmark_reports_every_path():
    result = subprocess.run([sys.executable, str(BENCH / "sink_write_path.py"), "--rows", "400", "--repeat", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for path in ("copy_upsert", "batched_upsert", "spark_jdbc_upsert"):
        assert re.search(rf"^{path}\s+\d+\s+\d+$", result.stdout, re.MULTILINE), result.stdout


def test_generator_fast_path_writes_the_bytes_of_bar_to_message():
    generated = generate(3_000)
    revisions = {(bar.symbol, bar.bar_time) for bar in generated.final if bar.fetched_at.second}
    assert revisions, "the sample holds revisions"
    for bar in generated.final[::37] + [bar for bar in generated.final if (bar.symbol, bar.bar_time) in revisions]:
        model = Bar(symbol=bar.symbol, interval=INTERVAL, bar_time=bar.bar_time, open=Decimal(price(bar.open)),
                    high=Decimal(price(bar.high)), low=Decimal(price(bar.low)), close=Decimal(price(bar.close)),
                    volume=bar.volume, fetched_at=bar.fetched_at)
        assert message(bar) == model.to_message()


def test_generator_is_deterministic_and_its_manifest_counts_the_latest_versions():
    first, second = generate(5_000), generate(5_000)
    assert first.messages == second.messages and first.manifest == second.manifest
    manifest = first.manifest
    assert len(first.messages) == manifest.messages == 5_000
    assert manifest.final_rows == manifest.messages - manifest.revisions == 4_900
    assert len({(bar.symbol, bar.bar_time) for bar in first.final}) == manifest.final_rows
    assert manifest.sum_volume == sum(bar.volume for bar in first.final)
    assert Decimal(manifest.sum_close) == sum(Decimal(price(bar.close)) for bar in first.final)


@pytest.mark.live_dag  # its cycle section runs the live DAG
@pytest.mark.timeout(900)
def test_benchmark_smoke_checks_every_path_and_reports_every_figure(tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "BENCHMARKS.md"
    shutil.copy(ROOT / "BENCHMARKS.md", markdown)
    result = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--output", str(output),
                             "--markdown", str(markdown)], cwd=ROOT, capture_output=True, text=True, timeout=840)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    results = json.loads(output.read_text())
    assert results["run"]["smoke"] and results["run"]["sections"] == ["generate", "throughput", "cycle", "quota",
                                                                      "history", "scale"]
    assert set(results["machine"]) >= {"cpu_count", "cpu_model", "ram_gb", "os", "python", "java", "spark",
                                       "kafka", "postgres"}
    throughput = results["throughput"]
    assert list(throughput["sessions"]) == list(SESSIONS)
    drains = [path for session in throughput["sessions"].values() for path in (session["drain"], session["fixed_cost"])]
    for path in (*drains, throughput["baseline"], throughput["ceiling"]):
        assert path["check"]["exact"] is True
        assert path["check"]["final_rows"] == results["generator"]["manifest"]["final_rows"]
    assert [figure for figure, value in results["figures"].items() if value is None] == []
    assert set(results["figures"]) == set(figure_keys())
    assert throughput["sessions"]["connect"]["drain"]["server_memory"]["pss_peak_mb"] > 0
    assert [target["figure"] for target in results["targets"]] == [figure for figure, *_ in TARGETS]
    assert all(isinstance(target["met"], bool) for target in results["targets"])
    components = {"airflow-scheduler", "airflow-api-server", "airflow-dag-processor", "airflow-triggerer", "kafka",
                  "postgres", "simulator", "spark-connect"}
    assert list(results["cycle"]["fetch"]) == list(SESSIONS)
    assert all(set(peaks) >= components for peaks in results["cycle"]["memory"].values())
    assert set(results["cycle"]["pss_at_rest_mb"]) == components
    assert all(run["cpu_seconds"] > 0 for runs in results["cycle"]["runs"]["fetch"].values() for run in runs)
    for plan in ("free", "premium"):
        assert results["quota"][plan]["days"] and results["quota"][plan]["throttled"] == 0

    [(size, history)] = results["history"]["sizes"].items()
    assert history["load"]["bars"] >= int(size) and history["size"]["bars"] > history["load"]["bars"]
    assert history["upsert_new"]["bars"] == history["upsert_revised"]["bars"] > 0
    # A scratch warehouse has no watchlist (market.fetch_state), so freshness has no rows there.
    assert all(history["queries"][name]["rows"] > 0 for name in PAGE_QUERIES if name != "reporting_freshness")
    assert {row["met"] for row in results["history"]["targets"]} <= {True, False}
    assert 0 < history["bar_time_index"]["brin"]["size_mb"] < history["bar_time_index"]["btree"]["size_mb"]

    scale = results["scale"]
    for plan, (_, quota) in SCALE_PLANS.items():
        for size, refresh in scale[plan]["sizes"].items():
            # Every planned symbol fetched with one request each: no throttled answer, no retry.
            assert refresh["symbols"] == int(size) and refresh["throttled"] == 0
            assert refresh["planned"] == min(int(size), quota.per_day or int(size))
            assert refresh["calls"] == refresh["fetched"] == refresh["planned"] == refresh["symbols"] - refresh["stale"]
            assert refresh["bars_published"] > 0 and refresh["cpu_seconds"] > 0 and refresh["ratio_to_floor"] > 0
    ledger = scale["ledger"]
    assert 0 < ledger["save_median_ms"] <= ledger["save_max_ms"]
    assert 0 < ledger["counters_bytes"] < ledger["old_format_bytes"]
    for master in ("local", "cluster"):
        assert scale["drain"][master]["check"]["exact"] is True
        assert scale["drain"][master]["check"]["final_rows"] == results["generator"]["manifest"]["final_rows"]
    assert scale["drain"]["cluster"]["applications"], "the drain ran on the cluster's master"
    assert len(scale["targets"]) == 2 and all(isinstance(row["met"], bool) for row in scale["targets"])

    text = markdown.read_text()
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert all(label in generated for label, *_ in (*FIGURES.values(), *SESSION_FIGURES.values()))
    assert text.split(BEGIN, 1)[0] == (ROOT / "BENCHMARKS.md").read_text().split(BEGIN, 1)[0], "prose kept"
    history_block = text.split(HISTORY_BEGIN, 1)[1].split(HISTORY_END, 1)[0]
    assert all(label in history_block for label, *_ in HISTORY_ROWS)
    assert (markdown.parent / PLOT).stat().st_size > 0
    scale_block = text.split(SCALE_BEGIN, 1)[1].split(SCALE_END, 1)[0]
    assert all(part in scale_block for part in ("Premium key", "Free key", "quota ledger", "per-run drain", "| target"))
    assert (markdown.parent / SCALE_PLOT).stat().st_size > 0
