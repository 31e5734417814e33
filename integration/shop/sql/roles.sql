-- Roles are shared by every database of the cluster, and several databases
-- may be loaded at once. The lock on pg_authid (taken by the caller's
-- transaction, see roles.go) serialises concurrent loaders; the attributes
-- are then forced to what the shop needs even if the roles already existed.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'shop_owner') THEN
        CREATE ROLE shop_owner;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgmoat_reader') THEN
        CREATE ROLE pgmoat_reader;
    END IF;
END
$$;

-- shop_owner owns the tables but nobody logs in as it: owning a table would
-- otherwise let a login change its policies.
ALTER ROLE shop_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- pgmoat_reader is the backend role pgmoat connects as: it may log in and
-- read, nothing else, and row-level security always applies to it.
ALTER ROLE pgmoat_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
    CONNECTION LIMIT -1 VALID UNTIL 'infinity';

-- The password arrives as a SCRAM verifier computed by the client, passed as
-- a bind parameter into a transaction-local setting: the server never sees
-- the password, and the client never splices a value into statement text
-- (format's %L quotes it server-side).
DO $$
BEGIN
    EXECUTE format('ALTER ROLE pgmoat_reader PASSWORD %L', current_setting('shop.reader_verifier'));
END
$$;
