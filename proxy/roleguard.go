package proxy

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// RoleFinding is one line of the backend-role check that invariant 8
// rests on: could the role write, bypass row-level security, reach
// server files or change its own rights?
type RoleFinding struct {
	Check   string // stable id, e.g. "role.superuser"
	Unsafe  bool   // false: the check passed, Message says what was found
	Message string
}

// RoleReport is what CheckBackendRole found about the connected role.
type RoleReport struct {
	Role     string
	Findings []RoleFinding
}

// Unsafe lists the findings that make the role unfit as pgmoat's backend.
func (r *RoleReport) Unsafe() []RoleFinding {
	var out []RoleFinding
	for _, f := range r.Findings {
		if f.Unsafe {
			out = append(out, f)
		}
	}
	return out
}

// UnsafeRoleError is the pool's refusal of a backend role that failed the
// check, and the reasons.
type UnsafeRoleError struct {
	Role     string
	Problems []RoleFinding
}

func (e *UnsafeRoleError) Error() string {
	why := make([]string, len(e.Problems))
	for i, f := range e.Problems {
		why[i] = f.Message
	}
	return fmt.Sprintf("pgmoat: backend.unsafe_role: refusing to use backend role %q: %s. "+
		"Run `pgmoat doctor` for the full checklist; fix the role, or pass --allow-unsafe-backend-role "+
		"(config: backend.allow_unsafe_role: true) if you really mean it", e.Role, strings.Join(why, "; "))
}

// roleGuard runs the check on the pool's first connection and remembers
// the outcome: every later connection of the pool is the same role.
// Connections opened meanwhile wait for the first check. A check that
// could not run (the query failed) is not remembered, so the next
// connection tries again.
type roleGuard struct {
	allow    bool
	onUnsafe func(*UnsafeRoleError)

	mu      sync.Mutex
	checked bool
	err     error // the refusal, nil once the role passed or was allowed
}

func (g *roleGuard) verify(ctx context.Context, pc *pgconn.PgConn) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.checked {
		return g.err
	}
	r, err := CheckBackendRole(ctx, pc)
	if err != nil {
		return err
	}
	g.checked = true
	if u := r.Unsafe(); len(u) > 0 {
		ue := &UnsafeRoleError{Role: r.Role, Problems: u}
		if !g.allow {
			g.err = ue
		} else if g.onUnsafe != nil {
			g.onUnsafe(ue)
		}
	}
	return g.err
}

// refusal is the check's refusal, nil while the role passed, was
// allowed or was not checked yet.
func (g *roleGuard) refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// dangerousRoles are predefined roles whose membership breaks the moat.
var dangerousRoles = []struct{ name, why string }{
	{"pg_write_all_data", "can write every table"},
	{"pg_read_server_files", "can read files on the database server"},
	{"pg_write_server_files", "can write files on the database server"},
	{"pg_execute_server_program", "can run programs on the database server"},
	{"pg_signal_backend", "can cancel and terminate other sessions"},
	// Every identity reaches the server as this one role, so what the
	// role may read, every client may try: these widen that past what
	// the GRANTs and the server's own checks were meant to leave it.
	{"pg_read_all_data", "can read every table, whatever it was granted"},
	{"pg_read_all_settings", "can read superuser-only settings, such as primary_conninfo with its password, through SHOW"},
	{"pg_read_all_stats", "can read every session's statements and statistics, of every role"},
}

// The check's statements: constant texts, read-only, run by pgmoat on a
// connection no client has seen yet.
const (
	qRoleAttributes = `SELECT current_user, rolsuper::text, rolbypassrls::text, rolcreaterole::text
		FROM pg_catalog.pg_roles WHERE rolname = current_user`
	qRoleMember = `SELECT (EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)
		AND pg_catalog.pg_has_role(current_user, $1, 'MEMBER'))::text`
	qRoleWritable = `SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
		ORDER BY 1`
	qRoleCreateSchema = `SELECT nspname FROM pg_catalog.pg_namespace
		WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'
		  AND pg_catalog.has_schema_privilege(oid, 'CREATE') ORDER BY 1`
	qRoleCreateDatabase = `SELECT pg_catalog.has_database_privilege(current_database(), 'CREATE')::text`
	qRoleOwns           = `SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_has_role(c.relowner, 'MEMBER')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`
)

// CheckBackendRole inspects the role pc is logged in as. It is the one
// definition of an unsafe backend role: the pool refuses one on its first
// connection, and pgmoat doctor prints the same findings.
func CheckBackendRole(ctx context.Context, pc *pgconn.PgConn) (*RoleReport, error) {
	r := &RoleReport{}
	add := func(check string, unsafe bool, format string, args ...any) {
		r.Findings = append(r.Findings, RoleFinding{Check: check, Unsafe: unsafe, Message: fmt.Sprintf(format, args...)})
	}
	attrs, err := queryRows(ctx, pc, qRoleAttributes)
	if err != nil || len(attrs) != 1 || len(attrs[0]) != 4 {
		return nil, fmt.Errorf("pgmoat: backend.role_check: cannot read the backend role's attributes: %v", err)
	}
	r.Role = attrs[0][0]
	for i, a := range []struct{ check, what string }{
		{"role.superuser", "a superuser: it can do anything, including ignoring row-level security"},
		{"role.bypassrls", "BYPASSRLS: row-level security does not apply to it"},
		{"role.createrole", "CREATEROLE: it can create roles and grant itself more"},
	} {
		if attrs[0][i+1] == "true" {
			add(a.check, true, "role %q is %s", r.Role, a.what)
		} else {
			add(a.check, false, "not %s", strings.SplitN(a.what, ":", 2)[0])
		}
	}
	for _, d := range dangerousRoles {
		rows, err := queryRows(ctx, pc, qRoleMember, d.name)
		if err != nil || len(rows) != 1 {
			return nil, fmt.Errorf("pgmoat: backend.role_check: cannot check membership of %s: %v", d.name, err)
		}
		if rows[0][0] == "true" {
			add("role.member."+d.name, true, "role %q is a member of %s: it %s", r.Role, d.name, d.why)
		}
	}
	names := func(sql string) ([]string, error) {
		rows, err := queryRows(ctx, pc, sql)
		out := make([]string, len(rows))
		for i, row := range rows {
			out[i] = row[0]
		}
		return out, err
	}
	writable, err := names(qRoleWritable)
	if err != nil {
		return nil, fmt.Errorf("pgmoat: backend.role_check: cannot check table write privileges: %w", err)
	}
	if len(writable) > 0 {
		add("role.writes", true, "role %q can write %d relation(s): %s", r.Role, len(writable), summarize(writable))
	} else {
		add("role.writes", false, "cannot write any table")
	}
	schemas, err := names(qRoleCreateSchema)
	if err != nil {
		return nil, fmt.Errorf("pgmoat: backend.role_check: cannot check CREATE on schemas: %w", err)
	}
	if len(schemas) > 0 {
		add("role.create_schema", true, "role %q can create objects in schema(s) %s", r.Role, summarize(schemas))
	}
	createDB, err := names(qRoleCreateDatabase)
	if err != nil {
		return nil, fmt.Errorf("pgmoat: backend.role_check: cannot check database privileges: %w", err)
	}
	if len(createDB) == 1 && createDB[0] == "true" {
		add("role.create_database", true, "role %q can create schemas in this database", r.Role)
	}
	owned, err := names(qRoleOwns)
	if err != nil {
		return nil, fmt.Errorf("pgmoat: backend.role_check: cannot check table ownership: %w", err)
	}
	if len(owned) > 0 {
		add("role.owns_tables", true, "role %q owns %s: owners can alter tables and disable row-level security; let another role own them", r.Role, summarize(owned))
	}
	return r, nil
}

// queryRows runs one statement with text parameters and returns its rows
// as text.
func queryRows(ctx context.Context, pc *pgconn.PgConn, sql string, args ...string) ([][]string, error) {
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	res := pc.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = string(v)
		}
	}
	return out, nil
}

// summarize lists up to eight names and counts the rest.
func summarize(names []string) string {
	if len(names) <= 8 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
}
