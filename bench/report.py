"""The machine a run measured on, its figures flattened, the targets, and the generated part of
BENCHMARKS.md (between the two markers; the prose around them is written by hand)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import psutil
import psycopg

from bench import history_report as history
from bench import scale_report as scale
from market_pipeline.settings import JARS_DIR

BEGIN, END = "<!-- bench:generated:begin -->", "<!-- bench:generated:end -->"
HISTORY_BEGIN, HISTORY_END = "<!-- bench:history:begin -->", "<!-- bench:history:end -->"
SCALE_BEGIN, SCALE_END = "<!-- bench:scale:begin -->", "<!-- bench:scale:end -->"
GB = 1_000_000_000

# key: (label, unit, "before": from the measurements of 2026-11-24 on the project as it stood)
FIGURES = {
    "generate_messages_per_second": ("Generator: messages built per second", "msg/s", "—"),
    "produce_messages_per_second": ("Producer (idempotent, lz4): messages per second", "msg/s", "—"),
    "baseline_end_to_end_seconds": ("Baseline (plain consumer): launch to exit", "s", "8.4–9.0"),
    "baseline_rows_per_second_end_to_end": ("Baseline end to end", "msg/s", "≈118,000"),
    "baseline_steady_state_rows_per_second": ("Baseline steady state (batches only)", "msg/s", "—"),
    "baseline_rss_peak_mb": ("Baseline consumer peak RSS", "MB", "—"),
    "baseline_pss_peak_mb": ("Baseline consumer peak PSS", "MB", "—"),
    "ceiling_rows_per_second": ("Ceiling: COPY of the final rows into market.bars", "rows/s", "—"),
    "cycle_no_fetch_done_median_seconds": ("No-fetch run: scheduled time to run done, median", "s", "—"),
    "cycle_no_fetch_done_p95_seconds": ("No-fetch run: scheduled time to run done, p95", "s", "2.4–4.9"),
    "stack_pss_at_rest_mb": ("The stack at rest (every service, Spark Connect server included): PSS", "MB", "—"),
    "stack_pss_at_rest_without_spark_connect_mb": ("The stack at rest without the Spark Connect server: PSS",
                                                   "MB", "—"),
    "per_run_drain_peak_plus_rest_mb": ("Per-run drain: stack at rest without the server + the drain's peak PSS",
                                        "MB", "—"),
    "cpu_ratio_connect_over_per_run": ("CPU per draining run (whole stack), Spark Connect / per run, medians",
                                       "×", "—"),
}
# The same figures for each drain session (`{session}_{key}`), side by side in one table.
SESSION_FIGURES = {
    "drain_end_to_end_seconds": ("Drain as the DAG launches it: launch to exit", "s", "31–35"),
    "drain_rows_per_second_end_to_end": ("Drain end to end", "msg/s", "≈30,000"),
    "drain_steady_state_rows_per_second": ("Drain steady state (batches only)", "msg/s", "≈50,000 (4 s a 200k batch)"),
    "drain_startup_seconds": ("Drain: launch to first batch's transaction", "s", "≈7 (JVM and session)"),
    "drain_last_batch_and_exit_seconds": ("Drain: last batch's transaction to exit", "s", "2–3 teardown"),
    "ratio_end_to_end": ("Ratio drain / baseline, end to end", "×", "0.25"),
    "ratio_steady_state": ("Ratio drain / baseline, steady state", "×", "—"),
    "noop_drain_seconds": ("No-op drain (nothing to read): launch to exit", "s", "7.4"),
    "drain_driver_rss_peak_mb": ("Drain launch peak RSS (spark-submit JVM + Python)", "MB", "1,100–1,240"),
    "drain_driver_pss_peak_mb": ("Drain launch peak PSS", "MB", "—"),
    "drain_server_pss_peak_mb": ("Spark Connect server peak PSS during the drain", "MB", "—"),
    "cycle_fetch_bars_visible_median_seconds": ("Fetch run: scheduled time to bars queryable, median", "s", "—"),
    "cycle_fetch_bars_visible_p95_seconds": ("Fetch run: scheduled time to bars queryable, p95", "s", "20–24"),
    "cycle_fetch_done_median_seconds": ("Fetch run: scheduled time to run done, median", "s", "—"),
    "cycle_fetch_done_p95_seconds": ("Fetch run: scheduled time to run done, p95", "s", "—"),
    "cycle_fetch_drain_task_median_seconds": ("Fetch run: drain task, start to end, median", "s", "—"),
    "cycle_fetch_drain_task_p95_seconds": ("Fetch run: drain task, start to end, p95", "s", "—"),
    "cycle_fetch_cpu_median_seconds": ("Fetch run: CPU seconds of the whole stack, median", "s", "—"),
    "cycle_fetch_cpu_p95_seconds": ("Fetch run: CPU seconds of the whole stack, p95", "s", "—"),
}
SESSIONS = {"per_run": "per run (before)", "connect": "Spark Connect (after)"}
# The cycle's memory group of the per-run drain (bench.cycle's name for it).
DRAIN_GROUP = "drain (within the scheduler's tree)"

# (figure, comparison, threshold, text)
TARGETS = [
    ("connect_cycle_fetch_bars_visible_p95_seconds", "<=", 15.0, "fetch + drain: bars queryable ≤ 15 s after (p95)"),
    ("connect_noop_drain_seconds", "<=", 5.0, "no-op drain ≤ 5 s"),
    ("connect_ratio_end_to_end", ">=", 0.5, "1M bars end to end ≥ 0.5× baseline"),
    ("connect_ratio_steady_state", ">=", 0.7, "steady state ≥ 0.7× baseline"),
    ("cpu_ratio_connect_over_per_run", "<=", 0.5, "CPU per draining run at least halved (≤ 0.5× per run)"),
    ("stack_pss_at_rest_mb", "<=", 3 * GB / 1e6, "the stack at rest, server included, ≤ 3 GB (PSS)"),
    ("connect_drain_driver_rss_peak_mb", "<=", GB / 1e6, "drain launch peak ≤ 1 GB (RSS)"),
    ("cycle_no_fetch_done_p95_seconds", "<=", 2.0, "no-fetch run done ≤ 2 s after its scheduled time (p95)"),
]


def figure_keys() -> list[str]:
    """Every flat figure a full run reports."""
    return [*FIGURES, *(f"{session}_{key}" for session in SESSIONS for key in SESSION_FIGURES)]


def machine(warehouse_uri: str) -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    os_release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', Path("/etc/os-release").read_text(), re.MULTILINE))
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    [kafka_jar] = (JARS_DIR / "kafka-broker").glob("kafka_2.13-*.jar")
    with psycopg.connect(warehouse_uri) as conn:
        [(postgres,)] = conn.execute("SHOW server_version").fetchall()
    import airflow
    import confluent_kafka
    import pyspark

    return {
        "cpu_count": os.cpu_count(), "cpu_model": cpu_model,
        "ram_gb": round(psutil.virtual_memory().total / GB, 1),
        "os": f"{os_release.get('PRETTY_NAME', platform.system())}, kernel {platform.release()}",
        "python": platform.python_version(), "java": java, "spark": pyspark.__version__,
        "kafka": kafka_jar.stem.removeprefix("kafka_2.13-"), "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0], "postgres": postgres, "airflow": airflow.__version__,
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def figures(results: dict) -> dict:
    """The flat figures of the tables, from the sections that ran (None where a section did not)."""
    out: dict = dict.fromkeys(figure_keys())
    if generator := results.get("generator"):
        out["generate_messages_per_second"] = generator["messages_per_second"]
    if throughput := results.get("throughput"):
        baseline = throughput["baseline"]
        out.update({
            "produce_messages_per_second": throughput["produce"]["messages_per_second"],
            "baseline_end_to_end_seconds": baseline["end_to_end_seconds"],
            "baseline_rows_per_second_end_to_end": baseline["rows_per_second_end_to_end"],
            "baseline_steady_state_rows_per_second": baseline["steady_state_rows_per_second"],
            "baseline_rss_peak_mb": baseline["memory"]["rss_peak_mb"],
            "baseline_pss_peak_mb": baseline["memory"]["pss_peak_mb"],
            "ceiling_rows_per_second": throughput["ceiling"]["rows_per_second"],
        })
        for session, figures_of in throughput["sessions"].items():
            drain = figures_of["drain"]
            out.update({f"{session}_{key}": value for key, value in {
                "drain_end_to_end_seconds": drain["end_to_end_seconds"],
                "drain_rows_per_second_end_to_end": drain["rows_per_second_end_to_end"],
                "drain_steady_state_rows_per_second": drain["steady_state_rows_per_second"],
                "drain_startup_seconds": drain["startup_seconds"],
                "drain_last_batch_and_exit_seconds": drain["last_batch_and_exit_seconds"],
                "ratio_end_to_end": figures_of["ratios"]["end_to_end"],
                "ratio_steady_state": figures_of["ratios"]["steady_state"],
                "noop_drain_seconds": figures_of["fixed_cost"]["end_to_end_seconds"],
                "drain_driver_rss_peak_mb": drain["memory"]["rss_peak_mb"],
                "drain_driver_pss_peak_mb": drain["memory"]["pss_peak_mb"],
                # A per-run drain has no server: the row says "none" as 0.
                "drain_server_pss_peak_mb": drain.get("server_memory", {}).get("pss_peak_mb", 0.0),
            }.items()})
    if cycle := results.get("cycle"):
        out.update({
            "cycle_no_fetch_done_median_seconds": cycle["no_fetch"]["done"]["median_seconds"],
            "cycle_no_fetch_done_p95_seconds": cycle["no_fetch"]["done"]["p95_seconds"],
        })
        for session, fetch in cycle["fetch"].items():
            out.update({f"{session}_cycle_fetch_{figure}_{statistic}_seconds": fetch[figure][f"{statistic}_seconds"]
                        for figure in ("bars_visible", "done", "drain_task", "cpu")
                        for statistic in ("median", "p95")})
        at_rest = cycle["pss_at_rest_mb"]
        without_server = round(sum(mb for name, mb in at_rest.items() if name != "spark-connect"), 1)
        per_run_peaks = cycle["memory"].get("per_run", {})
        out.update({
            "stack_pss_at_rest_mb": round(sum(at_rest.values()), 1),
            "stack_pss_at_rest_without_spark_connect_mb": without_server,
            "per_run_drain_peak_plus_rest_mb": round(without_server + per_run_peaks[DRAIN_GROUP]["pss_peak_mb"], 1)
            if per_run_peaks else None,
        })
        cpu = {session: fetch["cpu"]["median_seconds"] for session, fetch in cycle["fetch"].items()}
        if cpu.get("per_run") and cpu.get("connect") is not None:
            out["cpu_ratio_connect_over_per_run"] = round(cpu["connect"] / cpu["per_run"], 3)
    return out


def targets(flat: dict) -> list[dict]:
    rows = []
    for key, comparison, threshold, text in TARGETS:
        value = flat.get(key)
        met = None if value is None else (value >= threshold if comparison == ">=" else value <= threshold)
        rows.append({"target": text, "figure": key, "threshold": threshold, "measured": value, "met": met})
    return rows


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value < 100:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def markdown(results: dict) -> str:
    run, flat = results["run"], results["figures"]
    lines = [
        f"Run `{run['id']}` of {run['started_at'][:16].replace('T', ' ')} UTC: {run['bars']:,} bars"
        f"{' (smoke)' if run['smoke'] else ''}, sections {', '.join(run['sections'])}; load average "
        f"{run['load_average_at_start']} at the start, {run['load_average_at_end']} at the end. "
        f"Generated by `python -m bench` with `{run['output']}`.",
        "",
        "The drain in each of its sessions, side by side in this run (`drain_session`: per_run starts a Spark per "
        "launch; connect, the default, runs on the stack's Spark Connect server):",
        "",
        f"| figure | unit | before (2026-11-24) | {' | '.join(SESSIONS.values())} |",
        f"|---|---|---|{'---|' * len(SESSIONS)}",
    ]
    lines += [f"| {label} | {unit} | {before} | "
              + " | ".join(_number(flat.get(f"{session}_{key}")) for session in SESSIONS) + " |"
              for key, (label, unit, before) in SESSION_FIGURES.items()]
    lines += ["", "| figure | unit | before (2026-11-24) | this run |", "|---|---|---|---|"]
    lines += [f"| {label} | {unit} | {before} | {_number(flat.get(key))} |"
              for key, (label, unit, before) in FIGURES.items()]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {row['target']} | {_number(row['measured'])} | "
              f"{'—' if row['met'] is None else ('met' if row['met'] else 'missed')} |"
              for row in results["targets"]]
    if cycle := results.get("cycle"):
        counts = "; ".join(
            f"{summary['runs']} {label} runs counted, {summary['disturbed']} disturbed"
            + (" (every run disturbed: the figures are theirs)" if summary["from_disturbed_runs"] else "")
            for label, summary in [*((f"fetch ({session})", fetch) for session, fetch in cycle["fetch"].items()),
                                   ("no-fetch", cycle["no_fetch"])])
        sessions = list(cycle["memory"])
        names = list(cycle["memory"][sessions[0]])
        lines += ["", f"Cycle: {counts}. Peak memory of each component during each session's fetch runs, and "
                      "at rest after the runs:", "",
                  "| component | " + " | ".join(f"peak RSS / PSS (MB), {SESSIONS[s]}" for s in sessions)
                  + " | PSS at rest (MB) |",
                  "|---|" + "---|" * (len(sessions) + 1)]
        def peaks(session: str, name: str) -> str:
            peak = cycle["memory"][session][name]
            return f"{_number(peak['rss_peak_mb'])} / {_number(peak['pss_peak_mb'])}"

        lines += [f"| {name} | " + " | ".join(peaks(session, name) for session in sessions)
                  + f" | {_number(cycle['pss_at_rest_mb'].get(name))} |" for name in names]
    if quota := results.get("quota"):
        lines += ["", "| plan | day | calls | throttled | missing regular | missing extended |",
                  "|---|---|---|---|---|---|"]
        for plan, replay in quota.items():
            lines += [f"| {plan} ({replay['entitlement']}) | {day['day']} {'session' if day['trading'] else 'closed'} "
                      f"| {day['calls']} | {day['throttled']} | {day['missing_regular']} | {day['missing_extended']} |"
                      for day in replay["days"]]
    machine_info = results["machine"]
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine_info.items()]
    return "\n".join(lines)


def write_markdown(path: Path, results: dict) -> None:
    """Replace what stands between the markers of `path` (created with only them if missing): the
    main table when its sections ran, the history and scale sections' when they ran."""
    text = path.read_text() if path.exists() else "".join(
        f"{begin}\n{end}\n" for begin, end in ((BEGIN, END), (HISTORY_BEGIN, HISTORY_END), (SCALE_BEGIN, SCALE_END)))
    if set(results["run"]["sections"]) - {"history", "scale"}:
        text = _replace_block(path, text, BEGIN, END, markdown(results))
    if "history" in results:
        text = _replace_block(path, text, HISTORY_BEGIN, HISTORY_END, history.markdown(results["history"]))
        history.plot(results["history"], path.parent / history.PLOT)
    if "scale" in results:
        text = _replace_block(path, text, SCALE_BEGIN, SCALE_END, scale.markdown(results["scale"]))
        scale.plot(results["scale"], path.parent / scale.PLOT)
    path.write_text(text)


def _replace_block(path: Path, text: str, begin: str, end: str, block: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"{path} lacks the markers {begin} and {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}\n{end}{tail}"
