package proxy

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// Drivers and GUI tools send a few harmless SETs right after connecting
// (application_name, DateStyle, extra_float_digits, ...), in the simple
// protocol or the extended one (clientsetext.go). The policy allows a
// closed list of them (policy.ClientSetting); the session answers them
// itself, as PostgreSQL would, and records the value in its
// settings, which put it in force transaction-locally
// (set_config(name, value, true)) at the start of every transaction of
// the session. Nothing reaches a backend's session, so no value outlives
// a lending or reaches another client. The server's reports of such a
// setting (ParameterStatus, when a transaction's end undoes it) are not
// passed on: the client's value still holds (ownsReport).
//
// A SET inside a transaction block is refused (settings.transaction):
// PostgreSQL would apply it at once and undo it on ROLLBACK, which the
// session cannot reproduce exactly without the backend.
//
// A client SET followed by BEGIN in the same extended batch (no Sync
// between them) ran in the batch's implicit transaction, which the BEGIN
// turned into the block: the session keeps it undoable until the block
// ends, and undoes it when the block is rolled back (clientsetblock.go).
//
// The policy checks every value but TimeZone completely; whether a zone
// exists only the server knows. A TimeZone is therefore tried on a
// backend first (serverValue), and a zone the server refuses is
// answered with the server's own error, as PostgreSQL answers the SET:
// taken unchecked, it would make the settings of every later
// transaction fail. The value is taken as the server spells it
// (clientsetcanon.go), which is what the client is told.

// reportedClientSettings are the client settings PostgreSQL reports with
// ParameterStatus when they change (GUC_REPORT).
var reportedClientSettings = map[string]bool{
	"application_name": true, "DateStyle": true, "TimeZone": true,
	"IntervalStyle": true, "standard_conforming_strings": true,
}

// clientSetting answers an allowed SET or RESET of a client setting in
// simple protocol: CommandComplete SET or RESET, a ParameterStatus when
// the value of a reported setting changed (PostgreSQL reports changes,
// not SETs), ReadyForQuery.
func (s *session) clientSetting(ctx context.Context, cs *policy.ClientSetting) {
	before := s.work.sets.takeReport(cs.Name, s.reportOf(cs.Name))
	if e := s.takeClientSetting(ctx, cs); e != nil {
		s.refuseSimple(s.inFailedBlock(policy.KindClientSetting, e))
		return
	}
	s.queryRanUnnamed()
	s.settleOpenBatch()
	s.pushSynthetic(expectation{kind: setKind(cs), report: changedReport(before, s.reportOf(cs.Name))}, expectation{kind: synthReady})
}

// takeClientSetting records cs for the session's next transactions, or
// says why it cannot; a simple Query's SET and an extended Execute's
// (executeSetting) alike.
func (s *session) takeClientSetting(ctx context.Context, cs *policy.ClientSetting) *wireError {
	if s.owed() {
		s.pump(ctx) // earlier statements first: their transaction may still be open
	}
	if s.bk != nil {
		return errorf(codeDenied, "pgmoat: settings.transaction: SET "+cs.Name+" inside a transaction block is not supported through pgmoat; set it before BEGIN")
	}
	value := s.canonicalSetting(cs.Name, cs.Value)
	if needsServerCheck(cs) {
		v, e := s.serverValue(ctx, cs)
		if e != nil {
			return e
		}
		value = v
	}
	sets := maps.Clone(s.set.sets)
	if sets == nil {
		sets = map[string]string{}
	}
	if cs.Reset {
		delete(sets, cs.Name)
	} else {
		sets[cs.Name] = value
	}
	if len(sets) == 0 {
		sets = nil
	}
	s.rebuildSettings(sets)
	return nil
}

// renameStatements gives the client's prepared statements the
// server-side names of the settings now in force: a statement is
// prepared again, read under them, where the session next binds it, and
// never binds one read under the settings it left (statementName).
// Only rebuildSettings calls it. A Parse already sent under an old name
// went in a transaction begun with the settings that name belongs to: a
// batch's SETs come before its first statement a backend runs.
func (s *session) renameStatements() {
	for name, st := range s.stmts {
		st.backendName = s.set.statementName(st.query, st.paramOIDs)
		s.stmts[name] = st
	}
}

// needsServerCheck reports whether only the server can tell that cs's
// value is valid.
func needsServerCheck(cs *policy.ClientSetting) bool {
	return !cs.Reset && cs.Name == "TimeZone"
}

// checkSettingSQL puts a value in force for its own implicit
// transaction only, so the backend is left as it was, and returns it as
// the server spells it (what SHOW shows and ParameterStatus reports).
const checkSettingSQL = "SELECT pg_catalog.set_config($1, $2, true)"

// serverValue tries cs on a backend lent with the session's settings,
// name and value as bind parameters, and returns the value as the server
// spells it, or the server's error when it refuses the value. Called
// with no backend held.
func (s *session) serverValue(ctx context.Context, cs *policy.ClientSetting) (string, *wireError) {
	if s.set.gen != s.srv.engine.Generation() {
		s.refreshSettings()
	}
	bk, err := s.lendCancelable(ctx, false) // its own round trip: no replay
	if err != nil {
		return "", toWire(err)
	}
	defer s.srv.pool.release(bk)
	return checkOnBackend(ctx, bk, cs.Name, cs.Value)
}

// checkOnBackend puts name = value in force for its own implicit
// transaction on bk, which is left as it was, and returns the value as
// the server spells it, or the server's error when it refuses the value.
// Any other failure marks bk broken.
func checkOnBackend(ctx context.Context, bk *backend, name, v string) (string, *wireError) {
	var value []byte
	row := func(typ byte, body []byte) error {
		if typ != 'D' {
			return nil
		}
		var dr pgproto3.DataRow
		if err := dr.Decode(body); err != nil || len(dr.Values) != 1 || dr.Values[0] == nil {
			return errors.New("malformed answer to the setting's check")
		}
		value = append(value[:0], dr.Values[0]...)
		return nil
	}
	err := bk.ownRoundTripSeen(ctx, row, &pgproto3.Parse{Query: checkSettingSQL},
		&pgproto3.Bind{Parameters: [][]byte{[]byte(name), []byte(v)}},
		&pgproto3.Execute{}, &pgproto3.Sync{})
	var pe *pgconn.PgError
	switch {
	case err == nil && value != nil:
		return string(value), nil
	case err == nil:
		err = errors.New("no answer to the setting's check")
	case errors.As(err, &pe) && bk.txStatus == 'I':
		return "", &wireError{severity: "ERROR", code: pe.Code, message: pe.Message, detail: pe.Detail, hint: pe.Hint}
	}
	bk.broken.Store(true)
	return "", toWire(&InjectionError{Err: err})
}

// reportOf is the ParameterStatus PostgreSQL sends for name after a SET
// or RESET, or nil when it reports none. After a RESET the value is the
// client's startup value, else the server's.
func (s *session) reportOf(name string) *pgproto3.ParameterStatus {
	if !reportedClientSettings[name] {
		return nil
	}
	if v, ok := s.set.sets[name]; ok {
		return statusOf(name, v) // taken in the server's spelling
	}
	return s.resetReport(name)
}

// resetReport is reportOf name after a RESET: the client's startup
// value, else the server's.
func (s *session) resetReport(name string) *pgproto3.ParameterStatus {
	s.srv.pool.mu.Lock()
	server, ok := s.srv.pool.serverParams[name]
	s.srv.pool.mu.Unlock()
	for k, v := range s.set.client {
		if strings.EqualFold(k, name) {
			return statusOf(name, canonicalStartup(name, v, server))
		}
	}
	if !ok && name != "application_name" {
		return nil
	}
	return statusOf(name, server)
}

// with puts sets in force over s: each replaces the setting of the same
// name (a startup parameter, behind a pooler) or is added.
func (s settings) with(sets map[string]string) settings {
	if len(sets) == 0 {
		return s
	}
	out := make(settings, 0, len(s)+len(sets))
	for _, kv := range s {
		if !hasFold(sets, kv.name) {
			out = append(out, kv)
		}
	}
	names := make([]string, 0, len(sets))
	for k := range sets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, setting{k, sets[k]})
	}
	return out
}

func hasFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// ownsReport reports whether a ParameterStatus body from the backend
// names a setting the session took itself. The server undoes those at
// the end of every transaction, and reports its own value at the
// ReadyForQuery after a transaction block that spanned several batches,
// though the client's SET still holds: the client was told at its SET
// (clientSetting), and no server report of such a setting reaches it.
// Nor does one of a setting a block's rollback just undid, up to the
// ReadyForQuery that carries the session's own report (restoreSets).
func (s *session) ownsReport(body []byte) bool {
	if len(s.set.sets) == 0 && len(s.work.sets.undone) == 0 {
		return false
	}
	name, _, ok := bytes.Cut(body, []byte{0})
	if !ok {
		return false
	}
	_, set := s.set.sets[string(name)]
	return set || slices.Contains(s.work.sets.undone, string(name))
}

// A client's SETs are in force transaction-locally, so a simple Query
// whose text ends a transaction and goes on (BEGIN; ...; COMMIT;
// SELECT ...) would run the statements after the end without them, in
// the new transaction the server begins for them, where PostgreSQL
// keeps them. For such a text (policy.Verdict.EndsEarly) the backend is
// lent with the SETs in force in its session as well (carrying), as a
// startup parameter is, so they outlast the end. The next lending puts
// the backend's session back to its borrower's settings, as it does
// with startup parameters. A transaction already open on a backend the
// session holds cannot be given them at session level (its ROLLBACK
// would undo that too), so such a text is refused then.

// startQueryBatch is startBatch for a simple Query judged v.
func (s *session) startQueryBatch(ctx context.Context, v policy.Verdict) bool {
	if !v.EndsEarly || len(s.set.sets) == 0 || s.srv.pool.cfg.BehindPooler {
		return s.startBatch(ctx, true)
	}
	if s.owed() {
		s.pump(ctx) // the backend is given back once the last batch was answered
	}
	if s.bk != nil {
		s.refuseSimple(s.inFailedBlock(v.Kind, errorf(codeDenied, "pgmoat: settings.transaction: "+
			"statements after a COMMIT or ROLLBACK in the same query would run without the client's SETs; end the transaction block in a query of its own")))
		return false
	}
	if s.set.gen != s.srv.engine.Generation() {
		s.refreshSettings()
	}
	regular := s.set
	carried := regular.carrying()
	s.set = carried
	ok := s.startBatch(ctx, true)
	if s.set == carried {
		s.set = regular
	}
	return ok
}

// carrying is ss with its client SETs among the settings the backend's
// session is given at lending, not only each transaction's.
func (ss *sessionSettings) carrying() *sessionSettings {
	c := *ss
	c.settings = ss.settings.with(ss.sets)
	c.key = c.settings.key()
	return &c
}
