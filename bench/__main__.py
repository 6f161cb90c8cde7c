"""The benchmark: one command, every figure of BENCHMARKS.md measured in one run, side by side.

    bin/stack bench                   # 1,000,000 bars, every section (over an hour: history loads 10M bars)
    bin/stack bench --smoke           # a few thousand bars, two cycle runs (CI)
    bin/stack bench --only cycle      # some sections: generate, throughput, cycle, quota, history, scale
    bin/stack bench --only history --large   # the history section up to 30M bars (about an hour)
    bin/stack bench --only scale      # 10/100/500-symbol refreshes, the ledger's save, 1M bars on two masters

`bin/stack bench ARGS` runs `python -m bench ARGS` from the repository's root on the test stack
(started for it unless it is up), never on the live one: the cycle section unpauses the live
DAG and runs it.
Writes `bench/results/latest.json` (every figure, the ratios, the targets, the
machine) and regenerates the generated parts of `BENCHMARKS.md`; a smoke or
`--only` run writes `bench/results/<smoke|only-SECTION>.json` and leaves
BENCHMARKS.md alone unless `--output`/`--markdown` say otherwise, except `--only history`,
which writes `bench/results/history.json` and its own part of BENCHMARKS.md (with the plot
`docs/pictures/bench-history.png`), and `--only scale` likewise (`scale.json`, `bench-scale.png`). Every path
must leave the warehouse exactly as the generator's manifest says, or the run
fails. Everything a run creates (databases `market_bench_<run>_*`, topics
`bench.*.<run>`, a drain checkpoint) is removed at its end; logs stay in
`.state/bench/<run>/`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.generate import generate
from bench.measure import progress
from market_pipeline.in_airflow import connections
from market_pipeline.settings import PROJECT_ROOT, STATE_DIR, refuse_the_live_stack

SECTIONS = ("generate", "throughput", "cycle", "quota", "history", "scale")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"
# The sections with a block of BENCHMARKS.md and committed results of their own, run alone.
OWN_RESULTS = {"history": RESULTS_DIR / "history.json", "scale": RESULTS_DIR / "scale.json"}
MARKDOWN = PROJECT_ROOT / "BENCHMARKS.md"
DEFAULT_BARS = 1_000_000
DEFAULT_CYCLE_RUNS = 10
SMOKE_BARS = 4_000
SMOKE_BATCH = 1_000  # four batches: the steady state needs more than one


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int,
                        help=f"messages to generate (default {DEFAULT_BARS:,}; smoke {SMOKE_BARS:,})")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: for CI, figures mean nothing")
    parser.add_argument("--only", choices=SECTIONS, nargs="+", metavar="SECTION",
                        help=f"run these sections only ({', '.join(SECTIONS)})")
    parser.add_argument("--batch-size", type=int,
                        help="messages per batch (default: max_offsets_per_trigger of config/airflow_variables.json)")
    parser.add_argument("--cycle-runs", type=int, help=f"runs of each kind (default {DEFAULT_CYCLE_RUNS}; smoke 1)")
    parser.add_argument("--large", action="store_true", help="history section: 30M bars too")
    parser.add_argument("--history-bars", type=int, nargs="+", metavar="BARS",
                        help="history section: these sizes instead (default 1M 10M)")
    parser.add_argument("--output", type=Path, help="results JSON (default: see above)")
    parser.add_argument("--markdown", type=Path, help="file whose generated part is rewritten (default: see above)")
    args = parser.parse_args()
    partial = args.smoke or args.only
    args.bars = args.bars or (SMOKE_BARS if args.smoke else DEFAULT_BARS)
    args.cycle_runs = args.cycle_runs or (1 if args.smoke else DEFAULT_CYCLE_RUNS)
    # A section with its own block of BENCHMARKS.md, run alone at full size, writes its own results.
    own_block = not args.smoke and args.only in [[section] for section in OWN_RESULTS]
    if own_block:
        default_output = OWN_RESULTS[args.only[0]]
    elif partial:
        default_output = RESULTS_DIR / f"{'smoke' if args.smoke else 'only-' + '-'.join(args.only)}.json"
    else:
        default_output = LATEST
    args.output = args.output or default_output
    args.markdown = args.markdown or (MARKDOWN if own_block or not partial else None)
    return args


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)


def main() -> None:
    args = parse_args()
    refuse_the_live_stack("bin/stack bench")
    # The replayed fetch steps and the migrations log every step: the progress bars say enough.
    for name in ("market_pipeline", "yoyo"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from bench import cycle, history, history_report, quota, scale, scale_report, throughput
    from bench.scratch import scratch_database
    from market_pipeline.in_airflow.connections import kafka_config

    run_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}{uuid.uuid4().hex[:4]}"
    work_dir = STATE_DIR / "bench" / run_id
    work_dir.mkdir(parents=True)
    sections = [name for name in SECTIONS if name in args.only] if args.only else list(SECTIONS)
    base_uri = connections.warehouse_uri()
    bootstrap = kafka_config()["bootstrap.servers"]
    batch_size = args.batch_size or (SMOKE_BATCH if args.smoke else throughput.default_batch_size())
    results: dict = {"run": {
        "id": run_id, "started_at": datetime.now(UTC).isoformat(), "bars": args.bars, "smoke": args.smoke,
        "sections": sections, "batch_size": batch_size, "cycle_runs": args.cycle_runs,
        "load_average_at_start": report.load_average(), "logs": str(work_dir),
        "output": _shown(args.output),
    }, "machine": report.machine(base_uri)}

    if {"generate", "throughput"} & set(sections):
        started = time.perf_counter()
        with progress(total=args.bars, desc="generate", unit="msg", unit_scale=True) as bar:
            generated = generate(args.bars, progress=bar)
        seconds = time.perf_counter() - started
        results["generator"] = {"manifest": generated.manifest.as_dict(), "seconds": round(seconds, 3),
                                "messages_per_second": round(args.bars / seconds)}
    if "throughput" in sections:
        results["throughput"] = throughput.run(generated, bootstrap, base_uri, run_id, batch_size, work_dir)
    generated = None  # a million messages: not held through the cycle
    if "cycle" in sections:
        with scratch_database(base_uri, f"market_bench_{run_id}_cycle") as uri:
            results["cycle"] = cycle.run(bootstrap, uri, args.cycle_runs, args.cycle_runs, warm_up=not args.smoke)
    if "quota" in sections:
        results["quota"] = quota.run(args.smoke)
    if "history" in sections:
        sizes = args.history_bars or (history.SMOKE_SIZES if args.smoke else
                                      history.LARGE_SIZES if args.large else history.SIZES)
        results["history"] = history.run(base_uri, run_id, sizes, args.smoke)
        results["history"]["targets"] = history_report.targets(results["history"])
    if "scale" in sections:
        results["scale"] = scale.run(base_uri, bootstrap, run_id, args.smoke, args.bars, batch_size, work_dir)
        results["scale"]["targets"] = scale_report.targets(results["scale"])

    results["run"].update(finished_at=datetime.now(UTC).isoformat(), load_average_at_end=report.load_average())
    results["figures"] = report.figures(results)
    results["targets"] = report.targets(results["figures"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.markdown:
        report.write_markdown(args.markdown, results)
    if set(sections) - set(OWN_RESULTS):
        print(report.markdown(results))
    if "history" in results:
        print(history_report.markdown(results["history"]))
    if "scale" in results:
        print(scale_report.markdown(results["scale"]))
    print(f"\nresults: {args.output}" + (f"; table regenerated in {args.markdown}" if args.markdown else ""))


if __name__ == "__main__":
    main()
