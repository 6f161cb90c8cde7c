# bin/stack's supervision: each service started in a session of its own with its pid in
# .state/pids/NAME.pid and its output in .state/logs/NAME.log; stopped by pid, whole group.

SERVICES=(airflow-triggerer airflow-dag-processor airflow-scheduler airflow-api-server simulator spark-connect kafka postgres)
# Started only by `start --spark-cluster`: stopped and shown when they run, never required.
OPTIONAL_SERVICES=(spark-worker spark-master)

is_running() {  # name
  local pidfile=$PIDS/$1.pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

all_running() {
  local name
  for name in "${SERVICES[@]}"; do is_running "$name" || return 1; done
}

launch() {  # name command...: runs in its own session so stop can end its whole group
  local name=$1; shift
  if is_running "$name"; then return; fi
  setsid "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}

wait_for_port() {  # name port seconds
  python -m local_stack wait-for-port --pid "$(cat "$PIDS/$1.pid")" "$2" "$3" || die "$1: see $LOGS/$1.log"
}

start_postgres() {  # also bootstraps roles and databases at each start: a password changed in .env lands
  python -m local_stack postgres-start "$STATE_DIR" > "$PIDS/postgres.pid"
}

start_kafka() {
  launch kafka python -m local_stack kafka-broker "$STATE_DIR"
  wait_for_port kafka "$KAFKA_PORT" 60
  python -m market_pipeline.cli ensure-topics
}

start_spark_connect() {  # the drain's long-lived Spark (market_pipeline/load/spark_connect.py)
  launch spark-connect python -m local_stack spark-connect-server "$STATE_DIR"
  wait_for_port spark-connect "$SPARK_CONNECT_PORT" 180
}

start_spark_cluster() {  # a Spark standalone master and one worker (local_stack/spark_cluster.py)
  launch spark-master python -m local_stack spark-cluster-master "$STATE_DIR"
  wait_for_port spark-master "$SPARK_MASTER_PORT" 90
  launch spark-worker python -m local_stack spark-cluster-worker "$STATE_DIR"
  python -m local_stack spark-cluster-wait --pid "$(cat "$PIDS/spark-master.pid")" \
    --pid "$(cat "$PIDS/spark-worker.pid")" 180 || die "spark-worker: see $LOGS/spark-worker.log"
  log "Spark standalone cluster: master spark://$STACK_HOST:$SPARK_MASTER_PORT (UI http://$STACK_HOST:$SPARK_MASTER_WEBUI_PORT), one worker (UI http://$STACK_HOST:$SPARK_WORKER_WEBUI_PORT)"
  if [ "$STACK" = test ]; then  # it reads no .env: a run's own connection, through its spark_conn_id param
    log "to drain on it: a run with drain_session per_run and spark_conn_id naming a spark connection to spark://$STACK_HOST:$SPARK_MASTER_PORT"
  else
    log "to drain on it: AIRFLOW_CONN_SPARK_DEFAULT='{\"conn_type\": \"spark\", \"host\": \"spark://$STACK_HOST\", \"port\": $SPARK_MASTER_PORT}' in .env, \"drain_session\": \"per_run\" in the market_data_config Variable, then bin/stack restart --spark-cluster"
  fi
}

start_simulator() {
  launch simulator python -m market_pipeline.simulator --host "$STACK_HOST" --port "$SIMULATOR_PORT" \
    --entitlement "$SIMULATOR_ENTITLEMENT"
  wait_for_port simulator "$SIMULATOR_PORT" 30
}

start_airflow() {
  migrate_airflow_db
  launch airflow-api-server airflow api-server --host "$STACK_HOST" --port "$AIRFLOW_PORT"
  wait_for_port airflow-api-server "$AIRFLOW_PORT" 120
  # Pools and Variables before the scheduler, so no run starts without them.
  python -m market_pipeline.cli provision-airflow
  # Log servers are off: on one machine the api-server reads the log files itself.
  launch airflow-scheduler airflow scheduler --skip-serve-logs
  launch airflow-dag-processor airflow dag-processor
  launch airflow-triggerer airflow triggerer --skip-serve-logs
}

cmd_start() {  # [--spark-cluster]
  cmd_setup
  start_postgres
  python -m market_pipeline.cli migrate
  start_kafka
  start_spark_connect
  if [ "${1:-}" = --spark-cluster ]; then start_spark_cluster; fi
  start_simulator
  start_airflow
  write_environment
  log "stack is up: Airflow UI http://$STACK_HOST:$AIRFLOW_PORT  ($(python -m market_pipeline.cli airflow-login))"
}

write_environment() {  # how to reach this stack, for tools run from elsewhere (the tests' live-stack check)
  local name
  (umask 077
   for name in $(compgen -e); do
     case "$name" in
       AIRFLOW_CONN_*|AIRFLOW_HOME|AIRFLOW__API__BASE_URL|AIRFLOW__DATABASE__SQL_ALCHEMY_CONN|STOCKPIPE_*)
         printf '%s=%s\n' "$name" "${!name}" ;;
     esac
   done > "$STATE_DIR/environment")
}

cmd_stop() {
  load_env
  local name pid
  for name in "${OPTIONAL_SERVICES[@]}" "${SERVICES[@]}"; do
    is_running "$name" || { rm -f "$PIDS/$name.pid"; continue; }
    pid=$(cat "$PIDS/$name.pid")
    log "stopping $name (pid $pid)"
    if [ "$name" = postgres ]; then
      python -m local_stack postgres-stop "$STATE_DIR"
    else
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PIDS/$name.pid"
  done
}

cmd_status() {
  load_env
  local name state
  for name in "${SERVICES[@]}"; do
    if is_running "$name"; then state="running (pid $(cat "$PIDS/$name.pid"))"; else state=stopped; fi
    printf '%-22s %s\n' "$name" "$state"
  done
  for name in "${OPTIONAL_SERVICES[@]}"; do
    if is_running "$name"; then printf '%-22s running (pid %s)\n' "$name" "$(cat "$PIDS/$name.pid")"; fi
  done
  printf '\nAirflow UI      http://%s:%s\nPostgreSQL      %s:%s (databases airflow, market_data)\nKafka           %s:%s\nSpark Connect   sc://%s:%s\nSimulator       http://%s:%s/query\n' \
    "$STACK_HOST" "$AIRFLOW_PORT" "$STACK_HOST" "$POSTGRES_PORT" "$STACK_HOST" "$KAFKA_PORT" \
    "$STACK_HOST" "$SPARK_CONNECT_PORT" "$STACK_HOST" "$SIMULATOR_PORT"
  if is_running spark-master; then
    printf 'Spark master    spark://%s:%s (UI http://%s:%s)\n' "$STACK_HOST" "$SPARK_MASTER_PORT" "$STACK_HOST" \
      "$SPARK_MASTER_WEBUI_PORT"
  fi
}
