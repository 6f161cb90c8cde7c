-- The server's databases and login roles, as a superuser, with psql variables
-- airflow_password, warehouse_password and reader_password. Idempotent: roles get
-- their current password, databases are created once. Run by `bin/stack start`
-- (local_stack.postgres.bootstrap), then warehouse_database.sql in each database market_etl owns.
--
--   airflow        owns the Airflow metadata database
--   market_etl     owns the warehouse: migrations, loads, refreshes
--   market_reader  reads the `reporting` schema (granted by the migrations) and nothing else
SELECT format('CREATE ROLE %I LOGIN', r) FROM unnest(ARRAY['airflow', 'market_etl', 'market_reader']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE airflow PASSWORD :'airflow_password';
ALTER ROLE market_etl PASSWORD :'warehouse_password';
ALTER ROLE market_reader PASSWORD :'reader_password';
-- A second guard behind the grants: a reader's session starts read-only.
ALTER ROLE market_reader SET default_transaction_read_only = on;

SELECT 'CREATE DATABASE airflow OWNER airflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow') \gexec
SELECT 'CREATE DATABASE market_data OWNER market_etl' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'market_data') \gexec
-- The tests' own warehouses, rebuilt by them at will, one per pytest worker (bin/stack test runs three).
SELECT format('CREATE DATABASE %I OWNER market_etl', d) FROM unnest(ARRAY['market_data_test', 'market_data_test_2', 'market_data_test_3']) AS d
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
-- The benchmarks' scratch warehouse.
SELECT 'CREATE DATABASE market_data_bench OWNER market_etl' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'market_data_bench') \gexec

-- PUBLIC may connect to any database and create temporary tables by default: only owners
-- keep that, and the reader may connect to the warehouses (where it sees `reporting` only).
REVOKE CONNECT, TEMPORARY ON DATABASE airflow, market_data, market_data_test, market_data_test_2, market_data_test_3,
  market_data_bench FROM PUBLIC;
GRANT CONNECT ON DATABASE market_data, market_data_test, market_data_test_2, market_data_test_3, market_data_bench
  TO market_reader;
