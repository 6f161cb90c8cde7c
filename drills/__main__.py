"""`python -m drills NAME|all [options]`: run fault drills against the dev stack and print, for
each, what it did and the counts expected and found; the exit status is 1 when any differ.
Run from the checkout's root with the stack's environment: `bin/stack exec python -m drills all`."""

from __future__ import annotations

import argparse
import sys

from drills import DRILLS, run_drill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=[*DRILLS, "all"])
    parser.add_argument("--seed", type=int, default=15, help="seeds the kill moments (broker, drain-kill)")
    parser.add_argument("--bars", type=int, default=1_000_000, help="drain-kill: distinct bars to drain")
    parser.add_argument("--kills", type=int, default=10, help="drain-kill: SIGKILLs during the drain")
    args = parser.parse_args(argv)
    names = list(DRILLS) if args.name == "all" else [args.name]
    reports = [run_drill(name, seed=args.seed, bars=args.bars, kills=args.kills) for name in names]
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
