package introspect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Severity ranks a safety finding.
type Severity string

// Severities: Unsafe findings (from the backend pool's role check) make
// pgmoat refuse to start unless told otherwise; warnings and notes are
// reported.
const (
	Unsafe  Severity = "unsafe"
	Warning Severity = "warning"
	Note    Severity = "ok"
)

// Finding is one line of the backend-role checklist.
type Finding struct {
	Check    string // stable id, e.g. "role.superuser"
	Severity Severity
	Message  string
}

// SafetyReport is what CheckRole found about the connected role.
type SafetyReport struct {
	Role          string
	ServerVersion string
	Findings      []Finding
}

// Unsafe lists the findings that make the role unfit as pgmoat's backend.
func (r *SafetyReport) Unsafe() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == Unsafe {
			out = append(out, f)
		}
	}
	return out
}

// SafetyOptions tunes CheckRole. The zero value checks against the
// request.user_id setting.
type SafetyOptions struct {
	// RLSSetting is the setting policies are expected to read.
	RLSSetting string
}

// CheckRole inspects the role conn is logged in as beyond what makes it
// unsafe: is the schema it can read protected the way pgmoat expects, and
// what could be tighter? Whether the role could write, bypass row-level
// security or reach server files is the backend pool's check
// (proxy.CheckBackendRole), which refuses such a role at every door;
// pgmoat doctor prints both.
func CheckRole(ctx context.Context, conn *pgx.Conn, opts SafetyOptions) (*SafetyReport, error) {
	if opts.RLSSetting == "" {
		return nil, errors.New("introspect: CheckRole needs the RLS setting the policies read (rls.setting)")
	}
	r := &SafetyReport{}
	checks := []func(context.Context, *pgx.Conn, *SafetyReport, SafetyOptions) error{
		checkAttributes, checkTemp, checkUnprotected, checkPolicies, checkComments, checkRoleSettings,
		checkSQLRunners,
	}
	for _, check := range checks {
		if err := check(ctx, conn, r, opts); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *SafetyReport) add(check string, sev Severity, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func checkAttributes(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	var createDB, replication bool
	err := conn.QueryRow(ctx, `
		SELECT current_user, current_setting('server_version'), rolcreatedb, rolreplication
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).
		Scan(&r.Role, &r.ServerVersion, &createDB, &replication)
	if err != nil {
		return fmt.Errorf("read role attributes: %w", err)
	}
	r.add("server.version", Note, "PostgreSQL %s, connected as %q", r.ServerVersion, r.Role)
	if createDB {
		r.add("role.createdb", Warning, "role %q is CREATEDB", r.Role)
	}
	if replication {
		r.add("role.replication", Warning, "role %q is REPLICATION: it can stream the whole database", r.Role)
	}
	return nil
}

func checkTemp(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	var temp bool
	err := conn.QueryRow(ctx, `SELECT pg_catalog.has_database_privilege(current_database(), 'TEMP')`).Scan(&temp)
	if err != nil {
		return fmt.Errorf("check database privileges: %w", err)
	}
	if temp {
		r.add("role.temp", Warning, "role %q can create temporary tables (pgmoat's policy refuses them, but a tighter role is better: REVOKE TEMP ON DATABASE ... FROM PUBLIC)", r.Role)
	}
	return nil
}

func checkUnprotected(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	return r.warnReadable(ctx, conn, readableCheck{
		id: "tables.without_rls", what: "row-level security",
		where:   `c.relkind IN ('r', 'p') AND NOT c.relrowsecurity`,
		message: "readable without row-level security (every identity sees all rows): %s",
	})
}

func checkPolicies(ctx context.Context, conn *pgx.Conn, r *SafetyReport, opts SafetyOptions) error {
	rows, err := names(ctx, conn, `
		SELECT schemaname || '.' || tablename || ' (' || policyname || ')'
		FROM pg_catalog.pg_policies
		WHERE pg_catalog.strpos(coalesce(qual, '') || coalesce(with_check, ''), $1) = 0 ORDER BY 1`, opts.RLSSetting)
	if err != nil {
		return fmt.Errorf("check policies: %w", err)
	}
	if len(rows) > 0 {
		r.add("policies.setting", Warning, "policies that do not read %s (directly; a helper function may): %s", opts.RLSSetting, summarize(rows))
	}
	return nil
}

func checkComments(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	return r.warnReadable(ctx, conn, readableCheck{
		id: "tables.without_comment", what: "comments",
		where:   `c.relkind IN ('r', 'p', 'v', 'm') AND pg_catalog.obj_description(c.oid, 'pg_class') IS NULL`,
		message: "no COMMENT (their tools get a generated description only): %s",
	})
}

// readableCheck is a warning about the relations the role may read,
// outside the system schemas, that match where (over pg_class c): id is
// the finding's, what names the check in an error, and message takes
// the relations for its %s.
type readableCheck struct{ id, what, where, message string }

// warnReadable adds c's warning when any relation matches.
func (r *SafetyReport) warnReadable(ctx context.Context, conn *pgx.Conn, c readableCheck) error {
	found, err := names(ctx, conn, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE `+c.where+`
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check %s: %w", c.what, err)
	}
	if len(found) > 0 {
		r.add(c.id, Warning, c.message, summarize(found))
	}
	return nil
}

func checkRoleSettings(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	settings, err := names(ctx, conn, `
		SELECT pg_catalog.unnest(setconfig) FROM pg_catalog.pg_db_role_setting
		WHERE setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)`)
	if err != nil {
		return fmt.Errorf("check role settings: %w", err)
	}
	for _, s := range settings {
		if strings.HasPrefix(s, "statement_timeout=") {
			r.add("role.statement_timeout", Note, "role-level %s (pgmoat sets each profile's timeout per session anyway)", s)
		}
	}
	return nil
}

// qSQLRunners lists the functions the role may EXECUTE that run SQL text
// or read relations named in their arguments, out of the policy's sight if
// a hole ever let one through: ts_stat, ts_rewrite with a query, the
// *_to_xml family (query_to_xml, cursor_to_xml, table_to_xml, ...), every
// dblink function, the C functions behind tablefunc's crosstab and
// connectby and xml2's xpath_table (found by their C symbol, so a
// crosstabN a user declared is found too), and functions in procedural languages in readable
// schemas whose body uses EXECUTE. Each row is the REVOKE that removes
// the right. policy's SQL-runner oracle test checks that every function
// of PostgreSQL 15 and its contrib extensions seen running SQL from its
// arguments is listed here.
const qSQLRunners = `
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %I;', p.oid::regprocedure, current_user)
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
  AND ((n.nspname = 'pg_catalog' AND (p.proname = 'ts_stat' OR p.proname LIKE '%\_to\_xml%'
        OR (p.proname = 'ts_rewrite' AND 'text'::pg_catalog.regtype = ANY (p.proargtypes))))
    OR p.proname LIKE 'dblink%'
    OR (l.lanname = 'c' AND p.prosrc IN ('crosstab', 'crosstab_hash', 'connectby_text', 'connectby_text_serial', 'xpath_table'))
    OR (l.lanname NOT IN ('internal', 'c', 'sql') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND p.prosrc ~* '\mEXECUTE\M'))
ORDER BY 1`

// checkSQLRunners is a second wall behind the policy: functions that run
// SQL text should not be executable by the backend role at all.
func checkSQLRunners(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	revokes, err := names(ctx, conn, qSQLRunners)
	if err != nil {
		return fmt.Errorf("check functions that run SQL text: %w", err)
	}
	if len(revokes) == 0 {
		r.add("functions.sql_text", Note, "cannot execute functions that run SQL text")
		return nil
	}
	r.add("functions.sql_text", Warning, "role %q may execute %d function(s) that run SQL text or read relations named in their arguments; "+
		"pgmoat's policy refuses them, and these statements take the right away as a second wall. PUBLIC holds EXECUTE on functions "+
		"by default, so each REVOKE names PUBLIC as well as the role (GRANT a function back to roles that need it):\n    %s",
		r.Role, len(revokes), strings.Join(revokes, "\n    "))
	return nil
}

func names(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// summarize lists up to eight names and counts the rest.
func summarize(names []string) string {
	if len(names) <= 8 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
}
