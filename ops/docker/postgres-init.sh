#!/usr/bin/env bash
# The postgres container's first start (mounted into /docker-entrypoint-initdb.d by
# docker-compose.yaml): the stack's roles and databases, from the same SQL files and in the same
# order as bin/stack's (local_stack.postgres.bootstrap):
#   include/sql/bootstrap/databases_and_roles.sql once, with the psql variables airflow_password,
#   warehouse_password and reader_password (roles airflow, market_etl, market_reader; databases
#   airflow, market_data, market_data_test(_2, _3), market_data_bench), then
#   include/sql/bootstrap/warehouse_database.sql in each warehouse database.
# Both files are idempotent. The image's entrypoint runs this only on an empty data volume
# (bin/stack bootstraps at every start); after changing a password in .env, run it again:
#   docker compose up -d postgres
#   docker compose exec -u postgres postgres /docker-entrypoint-initdb.d/10-stockpipe.sh
set -eo pipefail

bootstrap=${STOCKPIPE_BOOTSTRAP_SQL:-/opt/stockpipe/include/sql/bootstrap}

for name in POSTGRES_AIRFLOW_PASSWORD POSTGRES_WAREHOUSE_PASSWORD POSTGRES_READER_PASSWORD; do
  if [ -z "${!name:-}" ]; then
    echo "postgres-init: $name is not set (see .env.example)" >&2
    exit 1
  fi
done

# The local socket, as the superuser the entrypoint created: trusted there, as under bin/stack.
psql_admin() {
  psql -v ON_ERROR_STOP=1 -qAt --no-psqlrc --username "${POSTGRES_USER:-postgres}" "$@"
}

psql_admin --dbname postgres \
  -v airflow_password="$POSTGRES_AIRFLOW_PASSWORD" \
  -v warehouse_password="$POSTGRES_WAREHOUSE_PASSWORD" \
  -v reader_password="$POSTGRES_READER_PASSWORD" \
  < "$bootstrap/databases_and_roles.sql"

for database in $(psql_admin --dbname postgres < "$bootstrap/warehouse_databases.sql"); do
  psql_admin --dbname "$database" < "$bootstrap/warehouse_database.sql"
done

echo "postgres-init: roles and databases of the stack are ready"
