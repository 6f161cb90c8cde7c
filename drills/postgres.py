"""Drill `postgres`: stop the warehouse's PostgreSQL mid-drain under the real DAG, start it again,
and count.

The live DAG runs through the stack's scheduler against a sandbox whose warehouse connection
points at a private PostgreSQL cluster (`harness.services.PrivatePostgres`): the shared one also
holds Airflow's metadata database and is never stopped. E-mail and chat alerts go to receivers
of this process (`drills.airflow_runs.alert_channels`). Two outages:

1. short: `pg_ctl stop -m immediate` while the drain writes a batch (after its first commit),
   started again a few seconds later. The drain's first try fails, its retry (30 s later) loads
   the rest: two tries, the run succeeds, and no alert is sent, since only a task's last try
   alerts (`market_pipeline.in_airflow.alerts`);
2. long: stopped as soon as the next run's drain starts, and kept down through all three tries:
   the last try fails and alerts by e-mail and chat; Postgres is then started and a follow-up
   run loads what was left.

After each, market.bars holds exactly the bars the simulator served, and every Kafka message was
committed by one batch.
"""

from __future__ import annotations

import time
from datetime import timedelta

from drills.airflow_runs import (
    DAG_ID,
    DRAIN_TASK,
    active_run_id,
    airflow_api,
    alert_channels,
    alerts_about,
    dag_sandbox,
    start_run,
    task_state,
    try_states,
)
from drills.counts import check_each_message_committed_once, check_warehouse_holds_served_bars
from drills.report import Report
from harness.sandbox import run_dag
from harness.services import private_postgres
from harness.waits import wait_until
from harness.warehouse import batches, sink_transaction_open
from market_pipeline.in_airflow.connections import kafka_config

SHORT_OUTAGE_SECONDS = 5
# Batches of 1,000: the first run's ~12,000 bars take a dozen batches, so one is caught mid-write.
MAX_OFFSETS_PER_TRIGGER = 1_000
LAST_TRY_ALERT = f"[market-data] {DAG_ID}.{DRAIN_TASK} failed on its last try (3)"


def run(report: Report) -> None:
    api = airflow_api()
    bootstrap = kafka_config()["bootstrap.servers"]
    with private_postgres() as postgres, alert_channels(api) as received, \
            dag_sandbox(api, postgres.uri(), max_offsets_per_trigger=MAX_OFFSETS_PER_TRIGGER) as (box, served):
        uri, query, topics = postgres.uri(), box.target.query_name, (box.target.bars_topic,
                                                                     box.target.dead_letter_topic)

        def check_exact() -> None:
            report.step(f"{len(served.bars)} bars served so far; counting the warehouse")
            check_warehouse_holds_served_bars(report, uri, served)
            check_each_message_committed_once(report, bootstrap, topics, uri, query)

        report.step(f"1. short outage: run {DAG_ID} on sandbox {query}, warehouse on private port {postgres.port}")
        running = start_run(box.target)
        if not wait_until(lambda: running.done() or (batches(uri, query) and sink_transaction_open(uri, query)),
                          600, interval=0.02) or running.done():
            raise RuntimeError("the run ended before Postgres could be stopped mid-drain")
        postgres.stop("immediate")
        report.step(f"Postgres stopped (immediate) inside the drain's batch transaction, "
                    f"{len(served.bars)} bars served; starting it again in {SHORT_OUTAGE_SECONDS} s")
        time.sleep(SHORT_OUTAGE_SECONDS)
        postgres.start()
        run_id, state, states = running.result()
        report.step(f"run {run_id} ended {state['state']}: {states}")
        received.flush()  # the run has ended, so its tries' alerts were sent: now they have arrived
        with report.phase("short outage"):
            report.check("run state", "success", state["state"])
            report.check("drain tries", ["failed", "success"], try_states(api, run_id, DRAIN_TASK))
            report.check("alerts about the run (earlier tries send none)", {"e-mail": [], "chat": []},
                         alerts_about(received, run_id))
            check_exact()

        box.advance(timedelta(days=1))  # Wednesday's session is published: 192 new bars a symbol
        report.step("2. long outage: the next session's run; Postgres stopped once its drain starts, kept down")
        running = start_run(box.target)
        run_id = None

        def drain_started() -> bool:
            nonlocal run_id
            run_id = run_id or active_run_id(api, box.target)
            return running.done() or (run_id is not None and task_state(api, run_id, DRAIN_TASK) == "running")

        if not wait_until(drain_started, 600, interval=0.2) or running.done():
            raise RuntimeError("the run ended before its drain started")
        postgres.stop("immediate")
        report.step(f"Postgres stopped (immediate) while {DRAIN_TASK} of {run_id} runs; waiting for its tries")
        run_id, state, states = running.result()
        report.step(f"run {run_id} ended {state['state']}: {states}")
        wait_until(lambda: all(alerts_about(received, run_id).values()), 120)
        received.flush()  # the run has ended, so its tries' alerts were sent: now they have arrived
        postgres.start()
        report.step(f"alerts about the run: {alerts_about(received, run_id)}; Postgres started again")
        failed_run_id = run_id
        run_id, state_after, states = run_dag(api, DAG_ID, box.target)
        report.step(f"follow-up run {run_id} ended {state_after['state']}: {states}")
        with report.phase("long outage"):
            report.check("run state", "failed", state["state"])
            report.check("drain tries", ["failed", "failed", "failed"], try_states(api, failed_run_id, DRAIN_TASK))
            # A slow run may also get its deadline alert (5 minutes after it was queued): not counted here.
            report.check(f"alerts '{LAST_TRY_ALERT}'", {"e-mail": 1, "chat": 1},
                         {channel: subjects.count(LAST_TRY_ALERT)
                          for channel, subjects in alerts_about(received, failed_run_id).items()})
            report.check("follow-up run: drain state", "success", states.get(DRAIN_TASK))
            check_exact()
