-- The warehouse databases, one name a line: those market_etl owns (databases_and_roles.sql
-- creates them), each to get warehouse_database.sql. So their list lives in that file alone.
SELECT datname FROM pg_database WHERE datdba = 'market_etl'::regrole ORDER BY 1;
