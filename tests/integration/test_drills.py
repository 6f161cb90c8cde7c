"""The fault drills (`drills/`), each run once against the stack's services: a test passes when
every count its drill expected was found. No time is asserted.

The scheduler drill SIGKILLs the stack's own scheduler for about half a minute; the others break
only what they start themselves (a private broker, a private PostgreSQL, their spark-submit)."""

import pytest

from drills import run_drill
from drills.report import Report

# Under load a drill's Spark and Airflow steps take minutes: the postgres drill waits out three
# tries of the drain and their retry delays, drain-kill starts Spark eleven times.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


@pytest.fixture(autouse=True)
def stack_environment(kafka_bootstrap, test_warehouse_uri):
    """The drills read the stack's connections themselves: fail early without them."""


def assert_all_counts_found(report: Report) -> None:
    assert report.ok, "\n".join(f"{check.what}: expected {check.expected}, found {check.found}"
                                for check in report.failures)


def test_a_broker_killed_while_a_fetch_publishes_loses_and_duplicates_no_message():
    assert_all_counts_found(run_drill("broker"))


@pytest.mark.live_dag
def test_postgres_stopped_mid_drain_fails_the_try_retries_alerts_and_the_table_ends_exact():
    assert_all_counts_found(run_drill("postgres"))


def test_a_drain_killed_repeatedly_ends_exact_with_each_message_committed_once():
    # Five kills, the first inside a sink transaction: each costs a JVM start; `bin/stack drill
    # drain-kill` kills ten times.
    assert_all_counts_found(run_drill("drain-kill", bars=100_000, kills=5))


def test_a_spark_connect_server_killed_repeatedly_under_a_drain_ends_exact_with_each_message_committed_once():
    # Three kills of the server, the first inside a sink transaction; its supervisor starts it again.
    assert_all_counts_found(run_drill("drain-kill", bars=100_000, kills=3, drain_session="connect"))


@pytest.mark.disrupts_stack
def test_a_scheduler_killed_mid_run_comes_back_and_nothing_is_lost():
    assert_all_counts_found(run_drill("scheduler"))
