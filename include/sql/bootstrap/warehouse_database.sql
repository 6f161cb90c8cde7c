-- Run as a superuser in each warehouse database after databases_and_roles.sql.
-- Any role may create large objects, even in a read-only transaction: take that from
-- PUBLIC, so market_reader has no way to write at all. Idempotent.
REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_import(text),
    lo_import(text, oid), lo_put(oid, bigint, bytea), lowrite(integer, bytea) FROM PUBLIC;
