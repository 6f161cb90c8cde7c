# What bin/stack runs on a stack: the demo, the test suite in stages, the drills, the benchmark.
# `test`, `drill` and `bench` run on the test stack (bin/stack picks it for them), which is started
# for the command and stopped after it, unless it was up already.

cmd_demo() {
  cmd_start
  python -m market_pipeline.cli run-dag market_bars_pipeline
  python -m market_pipeline.cli show-bars
  log "market page: http://$STACK_HOST:$AIRFLOW_PORT/market/ (Airflow login); Power BI: docs/power-bi.md"
}

in_test_stack() {  # command...: run it on the test stack, which is started for it unless it is up
  local started=""
  all_running || started=yes
  [ -z "$started" ] || trap cmd_stop EXIT
  cmd_start
  local status=0
  "$@" || status=$?
  if [ -n "$started" ]; then trap - EXIT; cmd_stop; fi
  return $status
}

stage() {  # name command...: one stage of the suite, timed
  local name=$1 started=$SECONDS status=0
  shift
  log "stage $name: $*"
  "$@" || status=$?
  log "stage $name: $([ $status = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
  return $status
}

# The integration tests in three groups at once (markers of pyproject.toml), so that the tests
# waiting on Airflow (retry delays, deadlines, deferrals) overlap the ones that keep the CPU busy.
# Each has a test database of its own and prefixes its output with its name. name|marks|database:
INTEGRATION_GROUPS=(
  "live-dag|integration and live_dag|market_data_test"
  "history-dag|integration and history_dag|market_data_test_2"
  "services|integration and not live_dag and not history_dag and not disrupts_stack|market_data_test_3"
)

integration_tests() {
  local group name marks database pids=() status=0
  for group in "${INTEGRATION_GROUPS[@]}"; do
    IFS='|' read -r name marks database <<< "$group"
    (STOCKPIPE_TEST_DATABASE=$database python -m pytest -m "$marks" -p no:cacheprovider --durations=15 2>&1 |
       sed -u "s/^/[$name] /") &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  # Then alone: it kills the test stack's scheduler.
  python -m pytest -m "integration and disrupts_stack" -p no:cacheprovider || status=1
  return $status
}

# The suite in stages, so that a mistake in the code is reported before any service starts:
#   1 ruff, unit and DAG-integrity tests: no services;
#   2 integration, plugin and drill tests: on the test stack, three groups at once, then the
#     scheduler drill alone;
#   3 the live stack untouched: its Airflow, Kafka, warehouse and checkpoints as before stage 2.
# With pytest arguments, just those, on the test stack.
cmd_test() {
  if [ $# -gt 0 ]; then install_test_browser; in_test_stack python -m pytest "$@"; return; fi
  local started=$SECONDS status=0 before
  cmd_setup
  stage 1 python -m pytest -m "not integration and not isolation" --durations=10 || return 1
  install_test_browser
  before=$STATE_DIR/live-stack-before-tests.json
  python -m tests.isolation.live_stack snapshot "$before"
  stage 2 in_test_stack integration_tests || status=1
  STOCKPIPE_LIVE_STACK_BEFORE=$before stage 3 python -m pytest -m isolation || status=1
  log "test suite $([ $status = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
  return $status
}

cmd_drill() { in_test_stack python -m drills "$@"; }

cmd_bench() { in_test_stack python -m bench "$@"; }
