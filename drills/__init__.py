"""Fault drills: break one part of the running pipeline on purpose, let it recover, and count.

Each drill prints what it did, then every count it expected and found; a drill passes only when
they all agree. `python -m drills NAME|all` runs them (see `drills/__main__.py`), and
`tests/integration/test_drills.py` wraps each in a test.

- `broker`: SIGKILL a (private) Kafka broker while a fetch publishes, restart it: no message lost
  or duplicated on the topic (`drills.broker`);
- `postgres`: stop a (private) warehouse PostgreSQL mid-drain under the real DAG: the drain fails,
  retries, alerts on its last try, and the table ends exact (`drills.postgres`);
- `drain-kill`: SIGKILL spark-submit, or with `--drain-session connect` the Spark Connect server,
  at seeded random moments of a large drain, then finish it: the table is exact and every message
  is committed once (`drills.drain_kill`);
- `scheduler`: SIGKILL the test stack's Airflow scheduler mid-run, restart it with `bin/stack
  start`: the run ends cleanly and nothing is lost (`drills.scheduler`).

The stack's broker and database are never stopped: the drills that stop one start their
own (`harness.services`). Everything a drill creates (topics, Airflow connections and Variables,
clusters, checkpoints) it removes.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

from drills.report import Report


@dataclass(frozen=True)
class Options:
    seed: int = 15
    bars: int = 1_000_000
    kills: int = 10
    drain_session: str = "per_run"


def _broker(report: Report, options: Options) -> None:
    from drills import broker

    broker.run(report, seed=options.seed)


def _postgres(report: Report, options: Options) -> None:
    from drills import postgres

    postgres.run(report)


def _drain_kill(report: Report, options: Options) -> None:
    from drills import drain_kill

    drain_kill.run(report, seed=options.seed, bars=options.bars, kills=options.kills,
                   drain_session=options.drain_session)


def _scheduler(report: Report, options: Options) -> None:
    from drills import scheduler

    scheduler.run(report)


DRILLS: dict[str, Callable[[Report, Options], None]] = {
    "broker": _broker, "postgres": _postgres, "drain-kill": _drain_kill, "scheduler": _scheduler,
}


def run_drill(name: str, **options) -> Report:
    """Run one drill and print its report; an exception ends it as a failed check."""
    report = Report(name)
    try:
        DRILLS[name](report, Options(**options))
    except Exception as exc:  # noqa: BLE001 - printed, and the drill fails
        traceback.print_exc()
        report.check("drill ran to the end", "yes", f"no: {type(exc).__name__}: {exc}")
    report.print_checks()
    return report
