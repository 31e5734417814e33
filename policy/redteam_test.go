package policy

import (
	"strings"
	"testing"
)

// redteamHeld are attacks on the readonly profile that the engine
// refused when they were tried, each with the rule that refuses it, kept
// so that they keep being refused: settings and identity in every SET
// spelling the grammar has (SET NAMES, SET SCHEMA, SET SESSION
// CHARACTERISTICS, SET TIME ZONE INTERVAL, FROM CURRENT, LOCAL), a
// read-write transaction hidden after READ ONLY, denied functions and
// relations behind Unicode escapes (with and without UESCAPE), E”
// strings, dollar quotes, nested comments, reg* literals, field
// selection and FROM-clause calls, writable CTEs, row locks in a
// subquery, EXPLAIN ANALYSE and its option spellings, every statement
// kind that leaves state on a backend (cursors WITH HOLD, LISTEN,
// PREPARE, two-phase commit, advisory locks, large objects,
// sequences), and TABLESAMPLE methods of contrib.
var redteamHeld = []struct {
	sql, rule string
}{
	{`SET NAMES 'SJIS'`, RuleSettings},
	{`SET SCHEMA 'pg_temp'`, RuleSettings},
	{`SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE`, RuleSettings},
	{`SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE`, RuleSettings},
	{`SET TimeZone = '<+00>-01'`, RuleSettings},
	{`SET LOCAL application_name = 'x'`, RuleSettings},
	{`SET application_name FROM CURRENT`, RuleSettings},
	{`SET SESSION AUTHORIZATION DEFAULT`, RuleSettings},
	{`RESET SESSION AUTHORIZATION`, RuleSettings},
	{`SET ROLE NONE`, RuleSettings},
	{`SET request.user_id = '2'`, RuleSettings},
	{`SET "request.user_id" TO DEFAULT`, RuleSettings},
	{`SET standard_conforming_strings = off`, RuleSettings},
	{`SET client_encoding = 'SJIS'`, RuleSettings},
	{`SET statement_timeout = 0`, RuleSettings},
	{`SET search_path = pg_temp, public`, RuleSettings},
	{`SET default_transaction_read_only = off`, RuleSettings},
	{`RESET ALL`, RuleSettings},
	{`DISCARD ALL`, RuleSettings},
	{`START TRANSACTION READ WRITE`, RuleReadWrite},
	{`BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, READ WRITE`, RuleReadWrite},
	{`SELECT U&"pg\005fsleep"(1)`, RuleFunction},
	{`SELECT U&"set\005Fconfig"('request.user_id', '2', false)`, RuleFunction},
	{`SELECT U&"set!005Fconfig" UESCAPE '!' ('request.user_id', '2', false)`, RuleFunction},
	{`SELECT pg_catalog . pg_sleep /* x */ (1)`, RuleFunction},
	{`SELECT /* /* nested */ 1 */ pg_sleep(1)`, RuleFunction},
	{`SELECT E'pg\x5fauthid'::regclass`, RuleRelation},
	{`SELECT U&'pg\005fauthid'::regclass`, RuleRelation},
	{`SELECT $q$pg_authid$q$::regclass`, RuleRelation},
	{`SELECT 'pg_catalog.set_config(text,text,boolean)'::regprocedure`, RuleFunction},
	{`SELECT (1.0).pg_sleep`, RuleFunction},
	{`SELECT (x).set_config FROM (SELECT 'a' x) s`, RuleFunction},
	{`SELECT * FROM set_config('request.user_id', '2', false)`, RuleFunction},
	{`SELECT * FROM ROWS FROM (set_config('request.user_id', '2', false))`, RuleFunction},
	{`SELECT 1 OPERATOR(public.+) 1`, RuleOperator},
	{`TABLE pg_authid`, RuleRelation},
	{`SELECT * FROM ONLY pg_shadow`, RuleRelation},
	{`VALUES ((SELECT rolpassword FROM pg_authid))`, RuleRelation},
	{`WITH x AS (DELETE FROM orders RETURNING *) SELECT * FROM x`, RuleWritableCTE},
	{`WITH x AS MATERIALIZED (UPDATE orders SET id = id RETURNING *) SELECT 1`, RuleWritableCTE},
	{`SELECT * FROM orders FOR KEY SHARE OF orders NOWAIT`, RuleLocking},
	{`SELECT * FROM (SELECT * FROM orders FOR UPDATE) s`, RuleLocking},
	{`EXPLAIN ANALYSE SELECT 1`, RuleExplain},
	{`EXPLAIN (ANALYZE 'on') SELECT 1`, RuleExplain},
	{`EXPLAIN (ANALYZE 1) SELECT 1`, RuleExplain},
	{`EXPLAIN (ANALYZE, ANALYZE false) SELECT 1`, RuleExplain},
	{`EXPLAIN ANALYZE VERBOSE SELECT pg_sleep(10)`, RuleExplain},
	{`EXPLAIN (GENERIC_PLAN) SELECT 1`, RuleExplainOption},
	{`EXPLAIN SELECT * INTO t FROM orders`, RuleSelectInto},
	{`EXPLAIN CREATE TABLE t AS SELECT 1`, RuleKind},
	{`DECLARE c CURSOR WITH HOLD FOR SELECT 1`, RuleKind},
	{`LISTEN x`, RuleKind},
	{`NOTIFY x`, RuleKind},
	{`LOCK orders`, RuleKind},
	{`COPY orders TO STDOUT`, RuleKind},
	{`COPY (SELECT 1) TO PROGRAM 'id'`, RuleKind},
	{`DO $$ BEGIN PERFORM 1; END $$`, RuleKind},
	{`CALL p()`, RuleKind},
	{`PREPARE p AS SELECT 1`, RuleKind},
	{`EXECUTE p`, RuleKind},
	{`SAVEPOINT a`, RuleKind},
	{`PREPARE TRANSACTION 'x'`, RuleKind},
	{`COMMIT PREPARED 'x'`, RuleKind},
	{`SELECT 1 INTO t`, RuleSelectInto},
	{`SELECT pg_try_advisory_xact_lock(1)`, RuleFunction},
	{`SELECT lo_import('/etc/passwd')`, RuleFunction},
	{`SELECT loread(0, 1)`, RuleFunction},
	{`SELECT 'pg_sleep'::regproc`, RuleFunction},
	{`SELECT id FROM orders ORDER BY id FETCH FIRST 5 ROWS WITH TIES`, RuleWithTies},
	{`SELECT pg_catalog.pg_read_binary_file('/etc/passwd', 0, 10, true)`, RuleFunction},
	{`SELECT * FROM pg_catalog.pg_ls_dir('.') d`, RuleFunction},
	{`SELECT count(*) FROM orders TABLESAMPLE system_rows(10)`, RuleFunction},
	{`SELECT xmlelement(name x, (SELECT rolpassword FROM pg_authid LIMIT 1))`, RuleRelation},
	{`SELECT 1; SELECT 2`, RuleMultiStmt},
	{`COMMIT; SELECT pg_sleep(1)`, RuleMultiStmt},
	{`SELECT pg_sleep_for('1 minute')`, RuleFunction},
	{`SELECT pg_catalog.txid_current()`, RuleFunction},
	{`SELECT nextval('s')`, RuleFunction},
	{`SELECT * FROM pg_stat_activity`, RuleRelation},
	{`SELECT * FROM pg_catalog.pg_prepared_statements`, RuleRelation},
	{`SELECT pg_notify('c', 'x')`, RuleFunction},
	{`SELECT dblink_connect('host=x')`, RuleFunction},
	{`SELECT table_to_xml('orders', true, true, '')`, RuleFunction},
	{`SELECT ts_stat('select 1')`, RuleFunction},
	{`SELECT pg_catalog.pg_terminate_backend(1)`, RuleFunction},
	{`SELECT setseed(0.5)`, RuleVolatile},
	{`SELECT gen_random_uuid()`, RuleVolatile},
}

func TestRedteamHeld(t *testing.T) {
	e := newTestEngine(t)
	for _, c := range redteamHeld {
		v := e.Decide(Identity{}, c.sql)
		if v.Allowed || v.Rule != c.rule {
			t.Errorf("%s: allowed=%v rule %q (%s); want %s", c.sql, v.Allowed, v.Rule, v.Reason, c.rule)
			continue
		}
		err := v.Err()
		if err.SQLState != SQLStateDenied || !strings.HasPrefix(err.Message, "pgmoat: "+c.rule+": ") {
			t.Errorf("%s: %s %q; want 42501 and a message naming %s", c.sql, err.SQLState, err.Message, c.rule)
		}
	}
}

// redteamBounded are LIMIT and FETCH spellings that try to lift the
// row bound (NULL, a string, a decimal that rounds up past max_rows,
// FETCH NEXT after OFFSET): each is rewritten so that PostgreSQL returns
// at most max_rows rows.
var redteamBounded = []struct{ sql, want string }{
	{"SELECT ALL 1 LIMIT NULL", "SELECT 1 LIMIT 1000"},
	{"SELECT 1 LIMIT '5000'", "SELECT 1 LIMIT LEAST('5000'::bigint, 1000)"},
	{"SELECT 1 OFFSET 0 ROWS FETCH NEXT 1000.5 ROWS ONLY", "SELECT 1 LIMIT LEAST((1000.5)::bigint, 1000) OFFSET 0"},
}

func TestRedteamBounded(t *testing.T) {
	e := newTestEngine(t)
	for _, c := range redteamBounded {
		if v := e.Decide(Identity{}, c.sql); !v.Allowed || v.SQL(c.sql) != c.want {
			t.Errorf("%s: allowed=%v (%s) sends %q; want %q", c.sql, v.Allowed, v.Reason, v.SQL(c.sql), c.want)
		}
	}
}
