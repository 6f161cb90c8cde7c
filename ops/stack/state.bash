# bin/stack's first-time state, made once per state folder and kept across restarts: the
# scheduler's signing secret, the PostgreSQL cluster, the Kafka storage, Airflow's metadata schema.
# The servers' own setup is local_stack's (Python, shared with the drills' private servers).

setup_airflow_secret() {  # the scheduler signs task tokens and the api-server checks them: one secret
  mkdir -p "$STATE_DIR/secrets"
  [ -f "$STATE_DIR/secrets/jwt_secret" ] && return
  (umask 077; head -c 64 /dev/urandom | base64 -w0 > "$STATE_DIR/secrets/jwt_secret")
}

setup_postgres() { python -m local_stack postgres-init "$STATE_DIR"; }

setup_kafka() { python -m local_stack kafka-configure "$STATE_DIR"; }

migrate_airflow_db() {  # once per Airflow version; needs PostgreSQL up
  local stamp=$STATE_DIR/airflow/.db-migrated
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(airflow version)" ] && return
  log "migrating the Airflow metadata database"
  mkdir -p "$STATE_DIR/airflow"
  airflow db migrate > "$LOGS/airflow-db-migrate.log" 2>&1 || die "airflow db migrate failed; see $LOGS/airflow-db-migrate.log"
  airflow version > "$stamp"
}

cmd_setup() {
  mkdir -p "$STATE_DIR" "$PIDS" "$LOGS" "$CACHE_DIR"
  setup_airflow_secret
  load_env
  install_system_packages
  install_python
  install_jars kafka-broker
  install_jars spark-kafka
  install_jars postgres-jdbc
  setup_postgres
  setup_kafka
}
