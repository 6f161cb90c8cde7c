"""Every DAG file imports cleanly and follows the project's policies."""

import json
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
EXPECTED_TASKS = {
    "market_bars_pipeline": {"fetch_bars", "drain_to_warehouse"},
    "market_bars_history": {"fetch_history_month", "check_backlog", "drain_to_warehouse"},
    "market_freshness_watchdog": {"check_freshness"},
    "market_corporate_actions": {"check_corporate_actions"},
}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_should_import_without_errors(path):
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    assert [dag.dag_id for dag in bag.dags.values()] == [path.stem], "one DAG per file, named like the file"


def test_should_have_the_expected_dags_and_tasks(dagbag):
    assert {dag_id: set(dag.task_ids) for dag_id, dag in dagbag.dags.items()} == EXPECTED_TASKS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_TASKS))
def test_should_follow_policies(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, "tags"
    assert dag.doc_md, "a docstring shown in the UI"
    assert dag.catchup is False
    assert dag.max_active_runs == 1, "runs share a topic and a checkpoint"
    assert dag.on_failure_callback, "a run that fails with no failed task (a timeout) alerts too"
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", f"{task.task_id}: owner"
        assert task.retries >= 1, f"{task.task_id}: retries"
        assert task.on_failure_callback, f"{task.task_id}: failure alert"
        assert not task.on_retry_callback, f"{task.task_id}: only the last try alerts"
        assert task.execution_timeout, f"{task.task_id}: a hung task must end"


def test_live_and_watchdog_runs_time_out_and_a_deadline_alert_warns_first(dagbag):
    for dag_id in ("market_bars_pipeline", "market_freshness_watchdog"):
        dag = dagbag.dags[dag_id]
        (deadline,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
        assert deadline.callback.path == "market_pipeline.in_airflow.alerts.run_overdue"
        assert type(deadline.reference).__name__ == "DagRunQueuedAtDeadline"
        assert dag.dagrun_timeout, f"{dag_id}: a hung run must end"
        assert deadline.interval < dag.dagrun_timeout, f"{dag_id}: the deadline warns before the timeout ends it"
    assert not dagbag.dags["market_bars_history"].deadline, "a history month may wait a day for quota"



def test_should_serialise_api_calls_and_drains_through_one_slot_pools(dagbag):
    pipeline, history = dagbag.dags["market_bars_pipeline"], dagbag.dags["market_bars_history"]
    actions = dagbag.dags["market_corporate_actions"].get_task("check_corporate_actions")
    assert pipeline.get_task("fetch_bars").pool == history.get_task("fetch_history_month").pool \
        == actions.pool == "alphavantage_api"
    for dag, backlog_check in ((pipeline, "fetch_bars"), (history, "check_backlog")):
        assert dag.get_task("drain_to_warehouse").pool == "warehouse_drain"
        assert dag.get_task("drain_to_warehouse").upstream_task_ids == {backlog_check}
    pools = json.loads((DAGS_DIR.parent / "config" / "airflow_pools.json").read_text())
    assert pools["alphavantage_api"]["slots"] == pools["warehouse_drain"]["slots"] == 1


def test_history_runs_once_a_month_from_a_fixed_start(dagbag):
    history = dagbag.dags["market_bars_history"]
    assert history.timetable.summary == "0 0 1 * *" and history.timetable.periodic
    assert type(history.timetable).__name__ == "CronDataIntervalTimetable", "a run loads the month it follows"
    assert history.start_date.isoformat() == "2000-01-01T00:00:00+00:00"


def test_the_live_dag_refuses_backfills_and_points_them_to_history(dagbag):
    allowed = {str(run_type.value) for run_type in dagbag.dags["market_bars_pipeline"].allowed_run_types}
    assert allowed == {"scheduled", "manual"}
    assert dagbag.dags["market_bars_history"].allowed_run_types is None
