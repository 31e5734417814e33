package introspect

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Severity ranks a safety finding.
type Severity string

// Severities: Unsafe findings make pgmoat refuse to start (unless told
// otherwise); warnings and notes are reported.
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

// CheckRole inspects the role conn is logged in as: could it write,
// bypass row-level security or reach server files, and is the schema it
// can read protected the way pgmoat expects?
func CheckRole(ctx context.Context, conn *pgx.Conn, opts SafetyOptions) (*SafetyReport, error) {
	if opts.RLSSetting == "" {
		opts.RLSSetting = "request.user_id"
	}
	r := &SafetyReport{}
	checks := []func(context.Context, *pgx.Conn, *SafetyReport, SafetyOptions) error{
		checkAttributes, checkMemberships, checkWritable, checkCreate, checkOwnership,
		checkUnprotected, checkPolicies, checkComments, checkRoleSettings,
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
	var super, bypass, createRole, createDB, replication bool
	err := conn.QueryRow(ctx, `
		SELECT current_user, current_setting('server_version'),
		       rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).
		Scan(&r.Role, &r.ServerVersion, &super, &bypass, &createRole, &createDB, &replication)
	if err != nil {
		return fmt.Errorf("read role attributes: %w", err)
	}
	r.add("server.version", Note, "PostgreSQL %s, connected as %q", r.ServerVersion, r.Role)
	flag := func(on bool, check, what string) {
		if on {
			r.add(check, Unsafe, "role %q is %s", r.Role, what)
		} else {
			r.add(check, Note, "not %s", what)
		}
	}
	flag(super, "role.superuser", "a superuser: it can do anything, including ignoring row-level security")
	flag(bypass, "role.bypassrls", "BYPASSRLS: row-level security does not apply to it")
	flag(createRole, "role.createrole", "CREATEROLE: it can create roles and grant itself more")
	if createDB {
		r.add("role.createdb", Warning, "role %q is CREATEDB", r.Role)
	}
	if replication {
		r.add("role.replication", Warning, "role %q is REPLICATION: it can stream the whole database", r.Role)
	}
	return nil
}

// dangerousRoles are predefined roles whose membership breaks the moat.
var dangerousRoles = []struct{ name, why string }{
	{"pg_write_all_data", "can write every table"},
	{"pg_read_server_files", "can read files on the database server"},
	{"pg_write_server_files", "can write files on the database server"},
	{"pg_execute_server_program", "can run programs on the database server"},
	{"pg_signal_backend", "can cancel and terminate other sessions"},
}

func checkMemberships(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	for _, d := range dangerousRoles {
		var member bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)
			AND pg_catalog.pg_has_role(current_user, $1, 'MEMBER')`, d.name).Scan(&member)
		if err != nil {
			return fmt.Errorf("check membership of %s: %w", d.name, err)
		}
		if member {
			r.add("role.member."+d.name, Unsafe, "role %q is a member of %s: it %s", r.Role, d.name, d.why)
		}
	}
	return nil
}

func checkWritable(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	tables, err := names(ctx, conn, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check table write privileges: %w", err)
	}
	if len(tables) > 0 {
		r.add("role.writes", Unsafe, "role %q can write %d relation(s): %s", r.Role, len(tables), summarize(tables))
	} else {
		r.add("role.writes", Note, "cannot write any table")
	}
	return nil
}

func checkCreate(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	schemas, err := names(ctx, conn, `
		SELECT nspname FROM pg_catalog.pg_namespace
		WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'
		  AND pg_catalog.has_schema_privilege(oid, 'CREATE') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check CREATE on schemas: %w", err)
	}
	if len(schemas) > 0 {
		r.add("role.create_schema", Unsafe, "role %q can create objects in schema(s) %s", r.Role, summarize(schemas))
	}
	var createDB, temp bool
	err = conn.QueryRow(ctx, `SELECT pg_catalog.has_database_privilege(current_database(), 'CREATE'),
		pg_catalog.has_database_privilege(current_database(), 'TEMP')`).Scan(&createDB, &temp)
	if err != nil {
		return fmt.Errorf("check database privileges: %w", err)
	}
	if createDB {
		r.add("role.create_database", Unsafe, "role %q can create schemas in this database", r.Role)
	}
	if temp {
		r.add("role.temp", Warning, "role %q can create temporary tables (pgmoat's policy refuses them, but a tighter role is better: REVOKE TEMP ON DATABASE ... FROM PUBLIC)", r.Role)
	}
	return nil
}

func checkOwnership(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	owned, err := names(ctx, conn, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_has_role(c.relowner, 'MEMBER')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check table ownership: %w", err)
	}
	if len(owned) > 0 {
		r.add("role.owns_tables", Unsafe, "role %q owns %s: owners can alter tables and disable row-level security; let another role own them", r.Role, summarize(owned))
	}
	return nil
}

func checkUnprotected(ctx context.Context, conn *pgx.Conn, r *SafetyReport, _ SafetyOptions) error {
	open, err := names(ctx, conn, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check row-level security: %w", err)
	}
	if len(open) > 0 {
		r.add("tables.without_rls", Warning, "readable without row-level security (every identity sees all rows): %s", summarize(open))
	}
	return nil
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
	bare, err := names(ctx, conn, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm') AND pg_catalog.obj_description(c.oid, 'pg_class') IS NULL
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("check comments: %w", err)
	}
	if len(bare) > 0 {
		r.add("tables.without_comment", Warning, "no COMMENT (their tools get a generated description only): %s", summarize(bare))
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
