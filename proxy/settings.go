package proxy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// settings are the session settings a borrower needs in force on its
// backend: the RLS identity, statement_timeout, and the client-visible
// parameters it chose at startup. Sorted by name.
type settings []setting

type setting struct{ name, value string }

// newSettings builds a borrower's settings from its profile. rlsSetting
// is the configured custom setting (request.user_id by default). The
// search_path is pinned to the profile's, because the policy engine
// resolves unqualified names against it.
func newSettings(rlsSetting, userID string, profile policy.Profile, client map[string]string) settings {
	timeout := profile.StatementTimeout
	if timeout <= 0 {
		timeout = policy.DefaultStatementTimeout
	}
	path := profile.SearchPath
	if len(path) == 0 {
		path = []string{"public"}
	}
	s := settings{
		{rlsSetting, userID},
		{"statement_timeout", strconv.FormatInt(timeout.Milliseconds(), 10)},
		{"search_path", searchPathValue(path)},
	}
	for k, v := range client {
		s = append(s, setting{k, v})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].name < s[j].name })
	return s
}

// searchPathValue quotes each schema name, so a name is never read as
// a list or a keyword.
func searchPathValue(path []string) string {
	quoted := make([]string, len(path))
	for i, p := range path {
		quoted[i] = policy.QuoteIdent(p)
	}
	return strings.Join(quoted, ", ")
}

// key identifies the settings, so the pool can prefer a backend that
// already carries them.
func (s settings) key() string {
	var b strings.Builder
	for _, kv := range s {
		b.WriteString(kv.name)
		b.WriteByte(0)
		b.WriteString(kv.value)
		b.WriteByte(0)
	}
	return b.String()
}

// appliedKey is key() of what a backend has in force.
func appliedKey(applied map[string]string) string {
	s := make(settings, 0, len(applied))
	for k, v := range applied {
		s = append(s, setting{k, v})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].name < s[j].name })
	return s.key()
}

// resetValue marks a setting to be put back to the backend's own default:
// a parameter an earlier borrower chose at startup and this one did not.
// A NUL byte cannot occur in a startup parameter, so no real value is it.
const resetValue = "\x00reset"

// diff returns the settings whose value on the backend differs, and a
// reset for every setting the backend carries that s does not name, so
// nothing one borrower chose (TimeZone, DateStyle, client_encoding, ...)
// reaches the next.
func (s settings) diff(applied map[string]string) settings {
	var out settings
	for _, kv := range s {
		if v, ok := applied[kv.name]; !ok || v != kv.value {
			out = append(out, kv)
		}
	}
	if len(applied) > len(s)-len(out) {
		var resets settings
		for name := range applied {
			if !s.has(name) {
				resets = append(resets, setting{name, resetValue})
			}
		}
		sort.Slice(resets, func(i, j int) bool { return resets[i].name < resets[j].name })
		out = append(out, resets...)
	}
	return out
}

func (s settings) has(name string) bool {
	for _, kv := range s {
		if kv.name == name {
			return true
		}
	}
	return false
}

// setConfigSQL is the statement that applies todo: one parameterized
// set_config call per setting, so no value is ever part of the SQL text.
// A reset takes the server's reset value of the setting from pg_settings.
// It returns the bind parameters with the text.
func setConfigSQL(todo settings) (string, [][]byte) {
	var b strings.Builder
	params := make([][]byte, 0, 2*len(todo))
	b.WriteString("SELECT ")
	for i, kv := range todo {
		if i > 0 {
			b.WriteString(", ")
		}
		params = append(params, []byte(kv.name))
		name := len(params)
		if kv.value == resetValue {
			fmt.Fprintf(&b, "pg_catalog.set_config($%d, (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE pg_catalog.lower(s.name) = pg_catalog.lower($%d)), false)", name, name)
			continue
		}
		params = append(params, []byte(kv.value))
		fmt.Fprintf(&b, "pg_catalog.set_config($%d, $%d, false)", name, len(params))
	}
	return b.String(), params
}

// InjectionError is a failure to put a borrower's settings in force; the
// borrower's statement never runs. When the server refused a value
// (Refused), the backend is unchanged and goes back to the pool: the
// value is the borrower's problem, and would be on any backend. Any other
// failure discards the backend.
type InjectionError struct {
	Err     error
	Refused *pgconn.PgError
}

func (e *InjectionError) Error() string {
	return "pgmoat: settings.injection: could not apply the session identity on the backend: " + e.Err.Error()
}
func (e *InjectionError) Unwrap() error { return e.Err }

// apply puts want in force on b with one round trip, reading and
// swallowing every response. On any error b is marked broken.
func (b *backend) apply(ctx context.Context, want settings) error {
	todo := want.diff(b.applied)
	if len(todo) == 0 {
		return nil
	}
	if err := b.applyNow(ctx, todo); err != nil {
		// One statement in an implicit transaction: refused, it changed
		// nothing, and the backend is idle and clean.
		var refused *pgconn.PgError
		if errors.As(err, &refused) && b.txStatus == 'I' {
			return &InjectionError{Err: err, Refused: refused}
		}
		b.broken.Store(true)
		return &InjectionError{Err: err}
	}
	for _, kv := range todo {
		if kv.value == resetValue {
			delete(b.applied, kv.name)
		} else {
			b.applied[kv.name] = kv.value
		}
	}
	b.appliedKey = appliedKey(b.applied)
	b.publish()
	return nil
}

func (b *backend) applyNow(ctx context.Context, todo settings) error {
	query, params := setConfigSQL(todo)
	return b.ownRoundTrip(ctx, &pgproto3.Parse{Query: query}, &pgproto3.Bind{Parameters: params},
		&pgproto3.Execute{}, &pgproto3.Sync{})
}

// localSettingsSQL applies n settings for the current transaction only
// and returns no rows, so nothing of it reaches the client. concat
// evaluates every argument; set_config is volatile, so none is folded
// away.
func localSettingsSQL(n int) string {
	var b strings.Builder
	b.WriteString("SELECT 1 WHERE pg_catalog.concat(")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "pg_catalog.set_config($%d, $%d, true)", 2*i+1, 2*i+2)
	}
	b.WriteString(") IS NULL")
	return b.String()
}

// params are the names and values as bind parameters, in pairs, for
// localSettingsSQL.
func (s settings) params() [][]byte {
	out := make([][]byte, 0, 2*len(s))
	for _, kv := range s {
		out = append(out, []byte(kv.name), []byte(kv.value))
	}
	return out
}

// forTransaction adds the read-only flag to settings applied for one
// transaction: the transaction itself is made read-only (switching it on
// is allowed at any point of a transaction, switching it off is not), and
// so is the default, for a transaction block the client opens later in
// the same implicit transaction.
func (s settings) forTransaction() settings {
	return append(append(settings(nil), s...),
		setting{"transaction_read_only", "on"}, setting{"default_transaction_read_only", "on"})
}

// local is what pgmoat sets transaction-locally at the start of every
// transaction, whatever the backend's session carries: the identity, the
// timeout and the read-only flag. Behind a pooler, where nothing of a
// session survives, every setting travels this way (the search_path and
// the read-only default too). Elsewhere the search_path and the client's
// settings stay session settings: DISCARD ALL puts them back and they are
// applied again before another identity borrows the backend, and what a
// client could do to them behind the policy stays with its own identity,
// which could do the same inside each of its transactions. Setting the
// search_path per transaction would cost the server more than the other
// three together (it recomputes the search path and revalidates cached
// plans).
func (s settings) local(rlsSetting string, behindPooler bool) settings {
	if behindPooler {
		return s.forTransaction()
	}
	var out settings
	for _, kv := range s {
		switch kv.name {
		case rlsSetting, "statement_timeout":
			out = append(out, kv)
		}
	}
	return append(out, setting{"transaction_read_only", "on"})
}

// value returns the setting's value, and whether s names it.
func (s settings) value(name string) (string, bool) {
	for _, kv := range s {
		if kv.name == name {
			return kv.value, true
		}
	}
	return "", false
}

// localStatement begins the names of the per-transaction settings
// statements (localSettingsSQL) prepared once on every backend that keeps
// prepared statements, so each transaction pays only a Bind and an
// Execute; localStatementName(n) is the one for n settings. No client
// statement has such a name on a backend (backendStatementName).
const localStatement = "pgmoat_local"

// localStatementName names the per-transaction settings statement for n
// settings; the names of the counts a backend can meet are made once,
// so an Executor call builds none.
func localStatementName(n int) string {
	if n < len(localStatementNames) {
		return localStatementNames[n]
	}
	return localStatement + strconv.Itoa(n)
}

// localStatementNames are localStatementName's answers for small counts;
// never written after init.
var localStatementNames = func() (names [64]string) {
	for n := range names {
		names[n] = localStatement + strconv.Itoa(n)
	}
	return names
}()

// localMessages are the messages that put local in force for the
// transaction they start, answered by ParseComplete (behind a pooler
// only), BindComplete and CommandComplete and nothing else. Behind a
// pooler the text goes into the unnamed statement each time.
func localMessages(local settings, behindPooler bool) []pgproto3.FrontendMessage {
	bind := &pgproto3.Bind{PreparedStatement: localStatementName(len(local)), Parameters: local.params()}
	if behindPooler {
		bind.PreparedStatement = ""
		return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: localSettingsSQL(len(local))}, bind, &pgproto3.Execute{}}
	}
	return []pgproto3.FrontendMessage{bind, &pgproto3.Execute{}}
}
