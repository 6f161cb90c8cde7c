"""The scale section's part of BENCHMARKS.md: a table per part (premium and free refreshes, the
quota ledger's save, the drain on each master), the issue's targets (met, or missed by how much)
and a plot of the refresh time against the watchlist's size."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from bench.targets import judged, table  # noqa: E402

PLOT = Path("docs") / "pictures" / "bench-scale.png"  # relative to BENCHMARKS.md
TARGET_SYMBOLS = 500
FLOOR_LIMIT, SAVE_LIMIT_MS = 1.5, 10.0


def _at(sizes: dict[str, dict], symbols: int) -> tuple[int, dict] | None:
    """(size, results) at `symbols`, or at the largest size when the run had none that large."""
    by_size = {int(size): result for size, result in sizes.items()}
    size = symbols if symbols in by_size else max(by_size)
    return (size, by_size[size]) if size <= symbols else None


def targets(scale: dict) -> list[dict]:
    rows = []
    if found := _at(scale["premium"]["sizes"], TARGET_SYMBOLS):
        size, result = found
        rows.append(judged(f"premium refresh of {TARGET_SYMBOLS} symbols ≤ {FLOOR_LIMIT}× the floor (requests / "
                           f"per-second limit)", result["ratio_to_floor"], FLOOR_LIMIT, judged_at=f"{size} symbols"))
    ledger = scale["ledger"]
    rows.append(judged(f"ledger save < {SAVE_LIMIT_MS:g} ms", ledger["save_median_ms"], SAVE_LIMIT_MS,
                       strictly_below=True, judged_at=f"{ledger['symbols']} symbols × {ledger['months']} months"))
    return rows


def _number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}"


def _rows(sizes: dict[str, dict], columns: list[str]) -> list[str]:
    return ["| " + " | ".join(_number(sizes[size][key]) for key in columns) + " |" for size in sorted(sizes, key=int)]


def markdown(scale: dict) -> str:
    premium, free, ledger, drain = scale["premium"], scale["free"], scale["ledger"], scale["drain"]
    premium_quota, free_quota = premium["quota"], free["quota"]
    lines = [f"![Refresh time against the watchlist's size]({PLOT})", "",
             f"Premium key ({premium['entitlement']}, {premium_quota['per_minute']:,} a minute, "
             f"{premium_quota['per_second']:g} a second), a live refresh from a fresh ledger. CPU is this process's "
             "(the fetch's threads, its Kafka producer, its ledger store): the simulator runs in a process of its own.",
             "", "| symbols | requests | throttled | wall (s) | floor (s) | × floor | CPU per request (ms) "
                 "| bars published |", "|---|---|---|---|---|---|---|---|"]
    lines += _rows(premium["sizes"], ["symbols", "calls", "throttled", "seconds", "floor_seconds", "ratio_to_floor",
                                      "cpu_ms_per_request", "bars_published"])
    lines += ["", f"Free key ({free['entitlement']}, {free_quota['per_day']} a day, {free_quota['per_second']:g} a "
                  "second), the same watchlists: stale is the watchlist less the symbols fetched (not planned, "
                  "deferred, flagged or failed).", "",
              "| symbols | planned | requests | throttled | wall (s) | fetched | left stale |",
              "|---|---|---|---|---|---|---|"]
    lines += _rows(free["sizes"], ["symbols", "planned", "calls", "throttled", "seconds", "fetched", "stale"])
    lines += ["", f"The quota ledger at {ledger['symbols']:,} symbols × {ledger['months']:,} history months:", "",
              "| figure | value |", "|---|---|",
              f"| `store.save` of the counters (a REST write of the Variable), median of {ledger['saves']} "
              f"/ slowest | {_number(ledger['save_median_ms'])} / {_number(ledger['save_max_ms'])} ms |",
              f"| the counters read (a REST read of the Variable), median | {_number(ledger['read_median_ms'])} ms |",
              f"| the counters' size | {_number(ledger['counters_bytes'])} bytes |",
              f"| old format (one document, every symbol and month): size | {_number(ledger['old_format_bytes'])} "
              "bytes |",
              f"| old format: serialise, median of 3 | {_number(ledger['old_format_serialise_median_ms'])} ms |",
              f"| old format: one REST write of it | "
              f"{_number(ledger['old_format_rest_write_seconds'])} s |"]
    lines += ["", f"The per-run drain of {drain['messages']:,} generated bars (batches of {drain['batch_size']:,}) on "
                  f"each master, side by side: on the cluster {drain['ratio_cluster_over_local']}× the time on "
                  f"`{drain['local']['master']}`.", "",
              "| master | cores | launch to exit (s) | bars/s end to end | bars/s steady state | launch to first "
              "batch (s) | cluster start (s) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {label} | {d['cores']} | {_number(d['end_to_end_seconds'])} | "
              f"{_number(d['rows_per_second_end_to_end'])} | {_number(d['steady_state_rows_per_second'])} | "
              f"{_number(d['startup_seconds'])} | {_number(d.get('start_seconds'))} |"
              for label, d in (("`local[*]`", drain["local"]), ("standalone, one worker", drain["cluster"]))]
    lines += ["", *table(scale["targets"], _number, judged_at=True)]
    return "\n".join(lines)


def plot(scale: dict, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for plan in ("premium", "free"):
        quota = scale[plan]["quota"]
        per_day = f", {quota['per_day']} a day" if quota["per_day"] else ""
        label = f"{plan} key ({quota['per_second']:g} a second{per_day})"
        sizes = sorted(scale[plan]["sizes"], key=int)
        axis.plot([int(size) for size in sizes], [scale[plan]["sizes"][size]["seconds"] for size in sizes],
                  marker="o", label=label)
    sizes = sorted(scale["premium"]["sizes"], key=int)
    symbols = [int(size) for size in sizes]
    floor = [scale["premium"]["sizes"][size]["floor_seconds"] for size in sizes]
    axis.plot(symbols, floor, color="grey", linestyle="--", label="premium floor (requests / per-second limit)")
    axis.plot(symbols, [FLOOR_LIMIT * seconds for seconds in floor], color="grey", linestyle=":",
              label=f"target ({FLOOR_LIMIT}× the floor)")
    axis.set(title="A live refresh against the watchlist's size", xlabel="symbols in the watchlist",
             ylabel="wall seconds")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
