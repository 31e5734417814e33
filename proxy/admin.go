package proxy

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// AdminDatabase is the virtual database of the admin console.
const AdminDatabase = "pgmoat"

// Admin-console roles.
const (
	AdminRoleAdmin   = "admin"   // everything
	AdminRoleAuditor = "auditor" // SHOW and CHECK only
)

// AdminUser is an admin-console login.
type AdminUser struct {
	Password string
	Role     string // AdminRoleAdmin (default) or AdminRoleAuditor
}

// AdminConfig configures the admin console. Nil hooks mean "nothing to
// show" (or, for Reload, that RELOAD is not available).
type AdminConfig struct {
	Users map[string]AdminUser
	// Profiles lists the profile names SHOW POLICY describes at start;
	// Server.Reconfigure replaces them.
	Profiles []string
	Version  string
	// Config returns SHOW CONFIG's rows (key, value) with secrets masked.
	Config func() [][2]string
	// Tools returns per-tool call statistics for SHOW TOOLS.
	Tools func() []ToolStats
	// Slow returns recent slow statements for SHOW SLOW.
	Slow func() []SlowStatement
	// Reload re-reads configuration and schema; it returns a summary.
	// It applies what it can through Server.Reconfigure and the engine.
	Reload func(ctx context.Context) (string, error)
}

// ToolStats is one MCP tool's line in SHOW TOOLS. The MCP side produces
// these; cmd wires them in.
type ToolStats struct {
	Name        string
	Calls       int64
	Errors      int64
	P50, P99    time.Duration
	RowsPerCall float64
}

// SlowStatement is one line of SHOW SLOW.
type SlowStatement struct {
	Time     time.Time
	Source   string // tool name or "proxy"
	UserID   string
	Duration time.Duration
	SQL      string // parameterized
	Plan     string // plan summary
	Advice   string // e.g. the CREATE INDEX that would help
}

// adminSession serves one admin-console connection (simple protocol only).
type adminSession struct {
	srv     *Server
	conn    net.Conn
	fe      *pgproto3.Backend
	user    string
	role    string // looked up again at each command (followRole)
	started time.Time
	buf     []byte
	// skipping discards extended-protocol messages until Sync.
	skipping bool
}

func (a *adminSession) serve() {
	defer a.conn.Close()
	for {
		msg, err := a.fe.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			a.query(m.String)
		case *pgproto3.Terminate:
			return
		case *pgproto3.Sync:
			a.skipping = false
			a.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close, *pgproto3.Flush:
			if !a.skipping {
				// Like PostgreSQL after an error: one ErrorResponse, then
				// nothing until the client's Sync.
				a.sendErr(errorf(codeFeatureNotSupp, "pgmoat: admin.protocol: the admin console speaks the simple query protocol only (psql does; for drivers use simple mode)"))
				a.skipping = true
			}
		default:
			a.sendErr(fatalf(codeProtocol, "pgmoat: admin.protocol: unexpected message"))
			return
		}
		if err := a.flush(); err != nil {
			return
		}
	}
}

func (a *adminSession) send(msg pgproto3.BackendMessage) {
	a.buf, _ = msg.Encode(a.buf)
}

func (a *adminSession) sendErr(e *wireError) { a.send(e.response()) }

func (a *adminSession) flush() error {
	if len(a.buf) == 0 {
		return nil
	}
	_, err := a.conn.Write(a.buf)
	a.buf = a.buf[:0]
	return err
}

// table sends a result set of text columns.
func (a *adminSession) table(cols []string, rows [][]string) {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		fields[i] = pgproto3.FieldDescription{Name: []byte(c), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}
	}
	a.send(&pgproto3.RowDescription{Fields: fields})
	for _, r := range rows {
		vals := make([][]byte, len(r))
		for i, v := range r {
			vals[i] = []byte(v)
		}
		a.send(&pgproto3.DataRow{Values: vals})
	}
	a.send(&pgproto3.CommandComplete{CommandTag: []byte("SHOW")})
}

func (a *adminSession) query(text string) {
	defer a.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	trimmed := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
	if trimmed == "" {
		a.send(&pgproto3.EmptyQueryResponse{})
		return
	}
	word := strings.ToUpper(strings.Fields(trimmed)[0])
	rest := strings.TrimSpace(trimmed[len(word):])
	if !a.followRole() {
		a.sendErr(errorf(codeDenied, "pgmoat: admin.role: "+a.user+" is no longer an admin-console user (a RELOAD removed it)"))
		return
	}
	switch word {
	case "SHOW":
		a.show(strings.ToUpper(rest))
	case "CHECK":
		a.check(rest)
	case "RELOAD", "PAUSE", "RESUME", "KILL":
		if a.role != AdminRoleAdmin {
			a.sendErr(errorf(codeDenied, "pgmoat: admin.role: "+word+" needs an admin; "+a.user+" is an auditor (SHOW and CHECK only)"))
			return
		}
		a.control(word, rest)
	default:
		a.sendErr(errorf("42601", fmt.Sprintf("pgmoat: admin.unknown_command: %q is not an admin-console command; SHOW HELP lists them", firstLine(trimmed, 60))))
	}
}

// followRole sets role to the user's role in the logins in force, as
// PostgreSQL checks a role's rights at each statement, and reports
// whether the user is still an admin-console user.
func (a *adminSession) followRole() bool {
	c, ok := a.srv.logins.Load().admins[a.user]
	if ok {
		a.role = c.role
	}
	return ok
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

var adminHelp = [][]string{
	{"SHOW HELP", "this list"},
	{"SHOW POOLS", "the backend pool of each host: clients active and waiting, servers in use and idle"},
	{"SHOW CLIENTS", "client connections: user, identity, address, state"},
	{"SHOW SERVERS", "backend connections: pid, state, identity in force, host"},
	{"SHOW HOSTS", "the primary and each replica: role, in rotation or why not, replay lag"},
	{"SHOW STATS", "totals: statements, denials, pool acquisitions and waits"},
	{"SHOW CONFIG", "the running configuration, secrets masked"},
	{"SHOW VERSION", "pgmoat's version"},
	{"SHOW POLICY", "each profile's rules"},
	{"SHOW DENIALS", "recent policy denials"},
	{"SHOW TOOLS", "MCP tools: calls, p50, p99, errors, rows per call"},
	{"SHOW SLOW", "recent slow statements with their plan and advice"},
	{"CHECK <sql>", "the policy verdict for a statement (profile readonly)"},
	{"RELOAD", "re-read configuration and schema (admin)"},
	{"PAUSE / RESUME", "hold new transactions / let them run again (admin)"},
	{"KILL <client_id>", "disconnect a client (admin)"},
}

func (a *adminSession) show(what string) {
	s := a.srv
	switch what {
	case "HELP":
		a.table([]string{"command", "description"}, adminHelp)
	case "POOLS":
		active, idle := s.clientStates()
		a.table([]string{"database", "user", "cl_active", "cl_idle", "cl_waiting", "sv_active", "sv_idle", "sv_total", "sv_max", "avg_wait_ms", "pool_mode", "paused",
			"sv_connecting", "sv_created", "sv_closed", "sv_lost", "connect_failures", "host", "role", "in_rotation", "lag_ms"}, s.poolRows(active, idle))
	case "CLIENTS":
		a.table([]string{"client_id", "user", "user_id", "profile", "addr", "connected", "state", "backend_pid"}, s.clientRows())
	case "SERVERS":
		a.table([]string{"pid", "state", "user_id", "statement_timeout", "prepared", "age_s", "host", "role"}, s.pool.serverRows(s.cfg.RLSSetting))
	case "HOSTS":
		a.table([]string{"host", "role", "in_rotation", "lag_ms", "checked_ago_ms", "reason", "sv_active", "sv_idle", "sv_max", "lent_total"}, s.hostRows())
	case "STATS":
		st := s.pool.Totals()
		a.table([]string{"stat", "value"}, [][]string{
			{"statements", strconv.FormatInt(s.statements.Load(), 10)},
			{"denials", strconv.FormatInt(s.denialCount.Load(), 10)},
			{"client_connections", strconv.Itoa(s.Clients())},
			{"pool_acquired", strconv.FormatUint(st.Acquired, 10)},
			{"pool_created", strconv.FormatUint(st.Created, 10)},
			{"pool_closed", strconv.FormatUint(st.Closed, 10)},
			{"pool_exhausted", strconv.FormatUint(st.Exhausted, 10)},
			{"pool_lost", strconv.FormatUint(st.Lost, 10)},
			{"pool_connect_failures", strconv.FormatUint(st.ConnectFailures, 10)},
			{"startup_timeouts", strconv.FormatUint(s.startupTimeouts.Load(), 10)},
			{"shutdown_disconnects", strconv.FormatUint(s.shutdownDisconnects.Load(), 10)},
			{"pool_avg_wait_ms", avgMillis(st.WaitTotal, st.Acquired)},
		})
	case "CONFIG":
		rows := [][]string{}
		if s.admin.Config != nil {
			for _, kv := range s.admin.Config() {
				rows = append(rows, []string{kv[0], kv[1]})
			}
		}
		a.table([]string{"key", "value"}, rows)
	case "VERSION":
		a.table([]string{"version"}, [][]string{{"pgmoat " + s.admin.Version}})
	case "POLICY":
		a.table([]string{"profile", "rule", "value"}, s.policyRows())
	case "DENIALS":
		var rows [][]string
		for _, d := range s.Denials() {
			rows = append(rows, []string{d.Time.UTC().Format(time.RFC3339), d.User, d.UserID, d.Rule, d.SQLState, d.Statement})
		}
		a.table([]string{"time", "user", "user_id", "rule", "sqlstate", "statement"}, rows)
	case "TOOLS":
		var rows [][]string
		if s.admin.Tools != nil {
			for _, t := range s.admin.Tools() {
				rows = append(rows, []string{t.Name, strconv.FormatInt(t.Calls, 10), ms(t.P50), ms(t.P99),
					strconv.FormatInt(t.Errors, 10), strconv.FormatFloat(t.RowsPerCall, 'f', 1, 64)})
			}
		}
		a.table([]string{"tool", "calls", "p50_ms", "p99_ms", "errors", "rows_per_call"}, rows)
	case "SLOW":
		var rows [][]string
		if s.admin.Slow != nil {
			for _, sl := range s.admin.Slow() {
				rows = append(rows, []string{sl.Time.UTC().Format(time.RFC3339), sl.Source, sl.UserID, ms(sl.Duration), sl.SQL, sl.Plan, sl.Advice})
			}
		}
		a.table([]string{"time", "source", "user_id", "duration_ms", "sql", "plan", "advice"}, rows)
	default:
		a.sendErr(errorf("42601", fmt.Sprintf("pgmoat: admin.unknown_command: SHOW %s is not known; SHOW HELP lists the commands", firstLine(what, 40))))
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func avgMillis(total time.Duration, n uint64) string {
	if n == 0 {
		return "0.00"
	}
	return ms(total / time.Duration(n))
}

// check answers CHECK <sql> with the verdict pgmoat check would print.
func (a *adminSession) check(sql string) {
	v := a.srv.engine.Decide(policy.Identity{Profile: policy.DefaultProfile}, sql)
	verdict := "allow"
	if !v.Allowed {
		verdict = "deny"
	}
	a.table([]string{"verdict", "sqlstate", "rule", "reason", "kind", "relations", "functions", "rewritten"}, [][]string{{
		verdict, v.SQLState, v.Rule, v.Reason, string(v.Kind), strings.Join(policy.RelationStrings(v.Relations), ", "), strings.Join(policy.FunctionStrings(v.Functions), ", "), v.Rewritten,
	}})
}

func (a *adminSession) control(word, rest string) {
	s := a.srv
	switch word {
	case "RELOAD":
		if s.admin.Reload == nil {
			a.sendErr(errorf(codeFeatureNotSupp, "pgmoat: admin.reload: nothing to reload in this set-up"))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		summary, err := s.admin.Reload(ctx)
		if err != nil {
			a.sendErr(errorf("XX000", "pgmoat: admin.reload: "+err.Error()))
			return
		}
		a.table([]string{"reloaded"}, [][]string{{summary}})
	case "PAUSE":
		s.pool.Pause()
		a.send(&pgproto3.CommandComplete{CommandTag: []byte("PAUSE")})
	case "RESUME":
		s.pool.Resume()
		a.send(&pgproto3.CommandComplete{CommandTag: []byte("RESUME")})
	case "KILL":
		id, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 32)
		if err != nil || !s.kill(uint32(id)) {
			a.sendErr(errorf("42704", fmt.Sprintf("pgmoat: admin.kill: no client with id %q; SHOW CLIENTS lists them", rest)))
			return
		}
		a.send(&pgproto3.CommandComplete{CommandTag: []byte("KILL")})
	}
}

// clientStates counts sessions holding a backend and those between
// transactions.
func (s *Server) clientStates() (active, idle int) {
	for _, sess := range s.sessionList() {
		if sess.held.Load() != nil {
			active++
		} else {
			idle++
		}
	}
	return active, idle
}

func (s *Server) sessionList() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.sessions))
	sort.Slice(out, func(i, j int) bool { return out[i].key.pid < out[j].key.pid })
	return out
}

func (s *Server) clientRows() [][]string {
	var rows [][]string
	for _, sess := range s.sessionList() {
		state, pid := "idle", ""
		if bk := sess.held.Load(); bk != nil {
			state, pid = "active", strconv.FormatUint(uint64(bk.pid), 10)
		}
		rows = append(rows, []string{strconv.FormatUint(uint64(sess.key.pid), 10), sess.user, sess.id.UserID, sess.id.ProfileName(),
			sess.conn.RemoteAddr().String(), sess.started.UTC().Format(time.RFC3339), state, pid})
	}
	return rows
}

// kill disconnects the client whose id (cancel-key pid) is given.
func (s *Server) kill(id uint32) bool {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return false
	}
	sess.bid(fatalf(codeAdminShutdown, "pgmoat: admin.kill: an administrator disconnected this client"))
	return true
}

func (s *Server) policyRows() [][]string {
	var rows [][]string
	for _, name := range s.logins.Load().profiles {
		p, ok := s.engine.Profile(name)
		if !ok {
			continue
		}
		add := func(rule, value string) { rows = append(rows, []string{name, rule, value}) }
		add("statement_timeout", p.StatementTimeout.String())
		add("max_rows", strconv.Itoa(p.MaxRows))
		add("search_path", strings.Join(p.SearchPath, ", "))
		add("allow_schemas", strings.Join(p.AllowSchemas, ", ")+" (+ pg_catalog, information_schema)")
		add("allow_relations", listOrAll(p.AllowRelations))
		add("deny_relations", strings.Join(p.DenyRelations, ", ")+" (+ built-in sensitive catalogs)")
		add("allow_functions (volatile)", strings.Join(p.AllowFunctions, ", "))
		add("deny_functions", strings.Join(p.DenyFunctions, ", ")+" (+ built-in deny list)")
		add("statement kinds", "SELECT, EXPLAIN (no ANALYZE), SHOW, BEGIN/START TRANSACTION [READ ONLY], COMMIT, ROLLBACK")
		add("multi_statement", strconv.FormatBool(p.AllowMultiStatement))
		add("settings", "no statement may change a setting")
	}
	return rows
}

func listOrAll(l []string) string {
	if len(l) == 0 {
		return "(all in allowed schemas)"
	}
	return strings.Join(l, ", ")
}
