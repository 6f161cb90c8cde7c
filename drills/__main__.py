"""`python -m drills NAME|all [options]`: run fault drills and print, for each, what it did and
the counts expected and found; the exit status is 1 when any differ. `bin/stack drill NAME|all`
runs it on the test stack (started for it unless it is up), never on the live one: the scheduler
drill kills the stack's scheduler."""

from __future__ import annotations

import argparse
import sys

from drills import DRILLS, run_drill
from market_pipeline.settings import refuse_the_live_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=[*DRILLS, "all"])
    parser.add_argument("--seed", type=int, default=15, help="seeds the kill moments (broker, drain-kill)")
    parser.add_argument("--bars", type=int, default=1_000_000, help="drain-kill: distinct bars to drain")
    parser.add_argument("--kills", type=int, default=10, help="drain-kill: SIGKILLs during the drain")
    parser.add_argument("--drain-session", choices=["per_run", "connect"], default="per_run",
                        help="drain-kill: kill spark-submit's own Spark, or the Spark Connect server")
    args = parser.parse_args(argv)
    refuse_the_live_stack("bin/stack drill")
    names = list(DRILLS) if args.name == "all" else [args.name]
    reports = [run_drill(name, seed=args.seed, bars=args.bars, kills=args.kills,
                         drain_session=args.drain_session) for name in names]
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
