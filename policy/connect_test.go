package policy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// toolConnect are the statements database tools send when they connect
// (pgAdmin 4's connect templates, and the JDBC driver plus the tool's own
// introspection for DBeaver and DataGrip), as public captures of their
// traffic show them; the long keyword list of DBeaver's pg_get_keywords
// query is shortened. rule is "" when the statement must be allowed, else
// the rule that must refuse it.
var toolConnect = []struct{ tool, sql, rule string }{
	{"pgAdmin 4", "SET DateStyle=ISO; SET client_min_messages=notice; SELECT set_config('bytea_output','hex',false) FROM pg_show_all_settings() WHERE name = 'bytea_output'; SET client_encoding='utf-8';", RuleMultiStmt},
	{"pgAdmin 4", "SELECT version()", ""},
	{"pgAdmin 4", `SELECT
    db.oid as did, db.datname, db.datallowconn,
    pg_catalog.pg_encoding_to_char(db.encoding) AS serverencoding,
    pg_catalog.has_database_privilege(db.oid, 'CREATE') as cancreate,
    datistemplate
FROM
    pg_catalog.pg_database db
WHERE db.datname = pg_catalog.current_database()`, ""},
	{"pgAdmin 4", `SELECT
    roles.oid as id, roles.rolname as name,
    roles.rolsuper as is_superuser,
    CASE WHEN roles.rolsuper THEN true ELSE roles.rolcreaterole END as
    can_create_role,
    CASE WHEN roles.rolsuper THEN true
    ELSE roles.rolcreatedb END as can_create_db,
    CASE WHEN 'pg_signal_backend'=ANY(ARRAY(WITH RECURSIVE cte AS (
    SELECT pg_roles.oid,pg_roles.rolname FROM pg_roles
        WHERE pg_roles.oid = roles.oid
    UNION ALL
    SELECT m.roleid,pgr.rolname FROM cte cte_1
        JOIN pg_auth_members m ON m.member = cte_1.oid
        JOIN pg_roles pgr ON pgr.oid = m.roleid)
    SELECT rolname  FROM cte)) THEN True
    ELSE False END as can_signal_backend
FROM
    pg_catalog.pg_roles as roles
WHERE
    rolname = current_user`, ""},
	{"pgAdmin 4", `SELECT CASE WHEN usesuper
       THEN pg_is_in_recovery()
       ELSE FALSE
       END as inrecovery,
       CASE WHEN usesuper AND pg_is_in_recovery()
       THEN pg_is_wal_replay_paused()
       ELSE FALSE
       END as isreplaypaused
FROM pg_user WHERE usename=current_user`, ""},
	{"pgAdmin 4", `SELECT CASE WHEN usesuper
       THEN pg_catalog.pg_is_in_recovery()
       ELSE FALSE
       END as inrecovery,
       CASE WHEN usesuper AND pg_catalog.pg_is_in_recovery()
       THEN pg_catalog.pg_is_wal_replay_paused()
       ELSE FALSE
       END as isreplaypaused
FROM pg_catalog.pg_user WHERE usename=current_user`, ""},

	{"DBeaver", "SET extra_float_digits = 3", ""},
	{"DBeaver", "SET application_name = 'DBeaver 25.1.5 - Main <postgres>'", ""},
	{"DBeaver", "SELECT current_schema(),session_user", ""},
	{"DBeaver", "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass ORDER BY nspname", ""},
	{"DBeaver", "SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = 1034", ""},
	{"DBeaver", "SHOW search_path", ""},
	{"DBeaver", "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='postgres'", ""},
	{"DBeaver", "SELECT * FROM pg_catalog.pg_settings where name='standard_conforming_strings'", ""},
	{"DBeaver", "SELECT string_agg(word, ',' ) from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all}'::text[])", ""},
	{"DBeaver", "SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1", ""},
	{"DBeaver", "SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1", ""},
	{"DBeaver", "select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_class c WHERE c.relnamespace=2200", ""},
	{"DBeaver", "SELECT sa.* FROM pg_catalog.pg_stat_activity sa", RuleRelation},

	{"DataGrip", "SET application_name = 'DataGrip 2025.2.3'", ""},
	{"DataGrip", "select version()", ""},
	{"DataGrip", "select current_database() as a, current_schemas(false) as b", ""},
	{"DataGrip", "SHOW TRANSACTION ISOLATION LEVEL", ""},
	{"DataGrip", "select round(extract(epoch from pg_postmaster_start_time() at time zone 'UTC')) as startup_time", ""},
	// The oldest transaction id anyone holds a lock for: other sessions'
	// locks, so it stays denied.
	{"DataGrip", `select L.transactionid::varchar::bigint as transaction_id
        from pg_catalog.pg_locks L
        where L.transactionid is not null
        order by pg_catalog.age(L.transactionid) desc
        limit 1`, RuleRelation},
	// txid_current() assigns a transaction id: a write, so it stays
	// denied even though pg_is_in_recovery() is now allowed.
	{"DataGrip", `select case
          when pg_catalog.pg_is_in_recovery()
            then null
          else
            (pg_catalog.txid_current() % 4294967296)::varchar::bigint
          end as current_txid`, RuleFunction},
	{"DataGrip", `select N.oid::bigint as id, datname as name, D.description,
               datistemplate as is_template, datallowconn as allow_connections,
               pg_catalog.pg_get_userbyid(N.datdba) as "owner"
        from pg_catalog.pg_database N
          left join pg_catalog.pg_shdescription D on N.oid = D.objoid
        order by case when datname = pg_catalog.current_database() then -1::bigint else N.oid::bigint end`, ""},
	{"DataGrip", "show DateStyle", ""},
	{"DataGrip", `select name, is_dst from pg_catalog.pg_timezone_names
        union distinct
        select abbrev as name, is_dst from pg_catalog.pg_timezone_abbrevs`, ""},
	{"DataGrip", `select T.oid::bigint as id, T.spcname as name,
               T.xmin as state_number, pg_catalog.pg_get_userbyid(T.spcowner) as owner,
               pg_catalog.pg_tablespace_location(T.oid) as location,
               T.spcoptions as options, D.description as comment
        from pg_catalog.pg_tablespace T
          left join pg_catalog.pg_shdescription D on D.objoid = T.oid`, ""},
	{"DataGrip", "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid FROM pg_catalog.pg_type LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r from pg_namespace as ns join ( select s.r, (current_schemas(false))[s.r] as nspname from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r using ( nspname ) ) as sp ON sp.nspoid = typnamespace WHERE pg_type.oid = '1034' ORDER BY sp.r, pg_type.oid DESC", ""},

	// Status kin, as monitoring panels of the same tools ask for them.
	// (the replay-pause functions raise an error outside recovery)
	{"status", "select pg_is_in_recovery(), case when pg_is_in_recovery() then pg_is_wal_replay_paused() end, case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() end", ""},
	{"status", "select pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()", ""},
	{"status", "select pg_current_wal_lsn(), pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn(), pg_jit_available()", ""},
	{"status", "select pg_postmaster_start_time(), pg_conf_load_time(), pg_backend_pid(), pg_my_temp_schema(), pg_is_other_temp_schema(pg_my_temp_schema())", ""},
	{"status", "select inet_server_addr(), inet_server_port(), inet_client_addr(), inet_client_port()", ""},
	// ... and what changes the same status stays denied.
	{"status", "select pg_wal_replay_pause()", RuleFunction},
	{"status", "select pg_wal_replay_resume()", RuleFunction},
	{"status", "select pg_promote()", RuleFunction},
	{"status", "select pg_switch_wal()", RuleFunction},
}

func TestToolConnectQueries(t *testing.T) {
	e := newTestEngine(t)
	for _, c := range toolConnect {
		v := e.Decide(Identity{UserID: "1"}, c.sql)
		switch {
		case c.rule == "" && !v.Allowed:
			t.Errorf("%s: denied %q: %s: %s", c.tool, c.sql, v.Rule, v.Reason)
		case c.rule != "" && (v.Allowed || v.Rule != c.rule):
			t.Errorf("%s: %q: got allowed=%v %s (%s); want %s", c.tool, c.sql, v.Allowed, v.Rule, v.Reason, c.rule)
		}
	}
}

// TestToolConnectQueriesOnRealPostgreSQL runs the allowed connect
// statements, as the engine rewrote them, on PostgreSQL 15 as a plain
// login role: each must run.
func TestToolConnectQueriesOnRealPostgreSQL(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	admin, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE ROLE reader LOGIN PASSWORD 'reader'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	// Roles are the cluster's: the next test of the shared cluster (or
	// the next -count) must find none.
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE reader").ReadAll() })
	conn, err := pgconn.Connect(ctx, c.DSNFor("reader", "reader", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	e := newTestEngine(t)
	for _, tc := range toolConnect {
		if tc.rule != "" {
			continue
		}
		v := e.Decide(Identity{UserID: "1"}, tc.sql)
		if !v.Allowed {
			t.Errorf("%s: denied %q: %s", tc.tool, tc.sql, v.Reason)
			continue
		}
		if _, err := conn.Exec(ctx, v.SQL(tc.sql)).ReadAll(); err != nil {
			t.Errorf("%s: %q (sent as %q): %v", tc.tool, tc.sql, v.SQL(tc.sql), err)
		}
	}
}
