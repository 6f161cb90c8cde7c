"""The history section's part of BENCHMARKS.md: a table of each figure against the bars held, the
issue's targets (met, or missed by how much) and a plot of the same figures."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from bench.targets import judged, table  # noqa: E402

PLOT = Path("docs") / "pictures" / "bench-history.png"  # relative to BENCHMARKS.md
TARGET_BARS = 10_000_000
BASELINE_BARS = 1_000_000
# The market page's own queries (the demo's newest bars are not on the page).
PAGE_QUERIES = ("reporting_symbols", "reporting_freshness", "reporting_prices_1_day", "reporting_prices_5_days",
                "reporting_prices_9_days", "reporting_daily_prices_1_month", "reporting_daily_prices_1_year",
                "reporting_daily_prices_20_years", "daily_metrics_20_years")
REFRESH_LIMIT_SECONDS, MONTH_LIMIT_SECONDS, QUERY_LIMIT_MS, SLOPE_LIMIT = 1.0, 3.0, 300.0, 1.5

# (label, unit, value of one size's results)
ROWS = [
    ("bars in market.bars", "", lambda r: r["load"]["bars"]),
    ("symbols", "", lambda r: r["load"]["symbols"]),
    ("first session loaded", "", lambda r: r["load"]["first_session"]),
    ("bulk load", "bars/s", lambda r: r["load"]["bars_per_second"]),
    ("full rebuild (`cli rebuild-reporting`)", "s", lambda r: r["rebuild_seconds"]),
    ("VACUUM ANALYZE after the load", "s", lambda r: r["vacuum_analyze_seconds"]),
    ("live drain (1 bar × each symbol): sink write, median", "s", lambda r: r["live"]["write_median_seconds"]),
    ("live drain: reporting refresh, median", "s", lambda r: r["live"]["refresh_median_seconds"]),
    ("refresh with nothing written (a run with nothing new), median", "s",
     lambda r: r["idle_refresh_median_seconds"]),
    ("history month of one symbol: sink write, median", "s", lambda r: r["month"]["write_median_seconds"]),
    ("history month: reporting refresh, median", "s", lambda r: r["month"]["refresh_median_seconds"]),
    ("bars per upsert batch (a drain's largest)", "", lambda r: r["upsert_new"]["bars"]),
    ("upsert of a batch of new bars: sink write", "s", lambda r: r["upsert_new"]["write_seconds"]),
    ("… its reporting refresh", "s", lambda r: r["upsert_new"]["refresh_seconds"]),
    ("upsert of the batch revised (every row conflicts): sink write", "s",
     lambda r: r["upsert_revised"]["write_seconds"]),
    ("… its reporting refresh", "s", lambda r: r["upsert_revised"]["refresh_seconds"]),
    *[(f"query `{name}`, median (rows)", "ms", lambda r, name=name: r["queries"][name])
      for name in (*PAGE_QUERIES, "latest_bars")],
    ("database size", "MB", lambda r: r["size"]["database_mb"]),
    ("… per million bars", "MB", lambda r: r["size"]["database_mb_per_million_bars"]),
    ("market.bars heap / primary key / bar_time BRIN", "MB",
     lambda r: " / ".join(f"{r['size'][key]:,}" for key in ("bars_heap_mb", "bars_pkey_mb", "bars_bar_time_brin_mb"))),
    ("market.bars with its indexes, per million bars", "MB", lambda r: r["size"]["bars_mb_per_million_bars"]),
    ("reporting tables, per million bars", "MB", lambda r: r["size"]["reporting_mb_per_million_bars"]),
    *[(f"bar_time as {kind}: size; one session of every symbol, median; adjustment_factors refresh", "MB; ms; s",
       lambda r, kind=kind: _index_cell(r["bar_time_index"][kind])) for kind in ("brin", "btree")],
]


def _index_cell(index: dict) -> str:
    factors = index["adjustment_factors_refresh_seconds"]
    return (f"{index['size_mb']:,.3f}; {index['median_ms']:,.1f}; "
            + (f"more than {index['timeout_seconds']}" if factors is None else f"{factors:,.2f}"))


def _at(history: dict, bars: int) -> dict | None:
    """The results of the size `bars`, or of the largest size when the run had none that large."""
    sizes = {int(size): result for size, result in history["sizes"].items()}
    return sizes.get(bars) or (sizes[max(sizes)] if max(sizes) < bars else None)


def targets(history: dict) -> list[dict]:
    at_target, at_baseline = _at(history, TARGET_BARS), _at(history, BASELINE_BARS)
    rows = []
    if at_target:
        rows.append(judged("live drain's refresh ≤ 1 s at 10M bars", at_target["live"]["refresh_median_seconds"],
                           REFRESH_LIMIT_SECONDS))
        rows.append(judged("history month's refresh ≤ 3 s at 10M bars",
                           at_target["month"]["refresh_median_seconds"], MONTH_LIMIT_SECONDS))
        rows += [judged(f"page query `{name}` ≤ 300 ms at 10M bars", at_target["queries"][name]["median_ms"],
                        QUERY_LIMIT_MS) for name in PAGE_QUERIES]
    if at_target and at_baseline and at_target is not at_baseline:
        rows.append(judged(
            "live drain's refresh at 10M ≤ 1.5× at 1M",
            round(at_target["live"]["refresh_median_seconds"] / at_baseline["live"]["refresh_median_seconds"], 2),
            SLOPE_LIMIT))
    return rows


def _cell(value) -> str:
    if isinstance(value, dict):
        return f"{value['median_ms']:,.1f} ({value['rows']:,})"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(history: dict) -> str:
    sizes = sorted(history["sizes"], key=int)
    results = [history["sizes"][size] for size in sizes]
    lines = [f"![The history section's figures against the bars held]({PLOT})", "",
             "| figure | unit | " + " | ".join(f"{int(size):,} bars" for size in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    lines += [f"| {label} | {unit} | " + " | ".join(_cell(value(r)) for r in results) + " |"
              for label, unit, value in ROWS]
    lines += ["", *table(history["targets"], _cell)]
    return "\n".join(lines)


def plot(history: dict, path: Path) -> None:
    sizes = sorted(history["sizes"], key=int)
    millions = [int(size) / 1e6 for size in sizes]
    results = [history["sizes"][size] for size in sizes]
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    refresh, writes, queries, disk = axes.flat
    for label, key in (("after a live drain", "live"), ("after a history month", "month")):
        refresh.plot(millions, [r[key]["refresh_median_seconds"] for r in results], marker="o", label=label)
    refresh.axhline(REFRESH_LIMIT_SECONDS, color="grey", linestyle=":", label="live target (1 s)")
    refresh.axhline(MONTH_LIMIT_SECONDS, color="grey", linestyle="--", label="month target (3 s)")
    refresh.set(title="Reporting refresh (median)", ylabel="seconds")
    for label, key in (("new bars", "upsert_new"), ("revisions", "upsert_revised")):
        writes.plot(millions, [r[key]["write_seconds"] for r in results], marker="o", label=label)
    writes.set(title="Sink write of a 200,000-bar batch", ylabel="seconds")
    for name in PAGE_QUERIES:
        queries.plot(millions, [r["queries"][name]["median_ms"] for r in results], marker=".", label=name)
    queries.axhline(QUERY_LIMIT_MS, color="grey", linestyle=":", label="target (300 ms)")
    queries.set(title="Market page queries (median)", ylabel="milliseconds", yscale="log")
    for label, key in (("database", "database_mb_per_million_bars"), ("market.bars", "bars_mb_per_million_bars"),
                       ("reporting", "reporting_mb_per_million_bars")):
        disk.plot(millions, [r["size"][key] for r in results], marker="o", label=label)
    disk.set(title="Size on disk per million bars", ylabel="MB")
    for axis in axes.flat:
        axis.set(xlabel="bars in market.bars (millions)", xscale="log")
        axis.set_ylim(bottom=None if axis is queries else 0)
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
