package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// qLending is what every lending shows of the settings a client may
// change and of its identity.
const qLending = "SELECT current_setting('DateStyle'), current_setting('TimeZone'), current_setting('IntervalStyle'), current_setting('request.user_id')"

// TestRedteamCarriedSetsStayWithTheirClient: a simple Query that ends a
// block and goes on is lent a backend with the client's SETs in its
// session. Under load from several identities (one of them with its own
// startup parameters), clients killed from the admin console while they
// carry, and RELOAD, PAUSE/RESUME and SHOW from the console, no other
// identity's lending may ever see those settings or another user_id, the
// carrying client always sees its own, and a prepared statement of an
// allowed text keeps working across every RELOAD.
func TestRedteamCarriedSetsStayWithTheirClient(t *testing.T) {
	t.Parallel()
	multi := func(map[string]policy.Profile) map[string]policy.Profile {
		return map[string]policy.Profile{
			"readonly": {Name: "readonly", AllowMultiStatement: true},
			"patient":  {Name: "patient", AllowMultiStatement: true},
		}
	}
	f := newFixture(t, fixtureOptions{poolMax: 2, reloadProfiles: multi})
	if err := f.server.engine.SetProfiles(multi(nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var defaults [3]string
	probe := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var uid string
	if err := probe.QueryRow(ctx, qLending).Scan(&defaults[0], &defaults[1], &defaults[2], &uid); err != nil {
		t.Fatal(err)
	}
	probe.Close(ctx)
	if defaults[0] == "SQL, DMY" || defaults[1] == "Asia/Tokyo" || defaults[2] == "iso_8601" {
		t.Fatalf("the server's defaults are the carried settings: %v", defaults)
	}

	const rounds = 40
	var carried atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// The carrier: SETs, then texts that end a block and go on, some
	// failing after the end; each new connection is a new client the
	// console may kill.
	carrier := func(n int) {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			conn, err := pgx.Connect(ctx, f.dsn("alice")+" application_name=carrier")
			if err != nil {
				fail(err)
				return
			}
			for _, s := range []string{"SET DateStyle = 'SQL, DMY'", "SET TimeZone = 'Asia/Tokyo'", "SET IntervalStyle = 'iso_8601'"} {
				if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil && !killedErr(conn, err) {
					fail(err)
				}
			}
			for _, text := range []string{
				"BEGIN; SELECT 1; COMMIT; " + qLending,
				"BEGIN; SELECT 1; ROLLBACK; " + qLending,
				"BEGIN; SELECT 1; COMMIT; SELECT 1/0",
			} {
				var got [4]string
				results, err := conn.PgConn().Exec(ctx, text).ReadAll()
				if err == nil {
					last := results[len(results)-1].Rows
					if len(last) != 1 || len(last[0]) != 4 {
						err = errors.New("the carrier's text returned no row of four")
					} else {
						for i, v := range last[0] {
							got[i] = string(v)
						}
					}
				}
				switch {
				case strings.Contains(text, "1/0"):
				case err != nil:
					if !killedErr(conn, err) {
						fail(err)
					}
				case got != [4]string{"SQL, DMY", "Asia/Tokyo", "iso_8601", "1"}:
					fail(errors.New("the carrier's own text saw " + strings.Join(got[:], "|")))
				default:
					carried.Add(1)
				}
				if conn.IsClosed() {
					break
				}
			}
			conn.Close(ctx)
		}
	}
	// The others: every lending must show the server's settings (or the
	// startup TimeZone of the one that chose it) and their own user_id.
	other := func(user, wantUID, tz string, mode pgx.QueryExecMode) {
		defer wg.Done()
		cfg, err := pgx.ParseConfig(f.dsn(user))
		if err != nil {
			fail(err)
			return
		}
		cfg.DefaultQueryExecMode = mode
		want := [4]string{defaults[0], defaults[1], defaults[2], wantUID}
		if tz != "" {
			cfg.RuntimeParams["TimeZone"] = tz
			want[1] = tz
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			fail(err)
			return
		}
		defer conn.Close(ctx)
		for i := 0; i < 3*rounds; i++ {
			var got [4]string
			if err := conn.QueryRow(ctx, qLending).Scan(&got[0], &got[1], &got[2], &got[3]); err != nil {
				fail(errors.New(user + ": " + err.Error()))
				return
			}
			if got != want {
				fail(errors.New(user + " saw " + strings.Join(got[:], "|") + ", want " + strings.Join(want[:], "|")))
				return
			}
		}
	}
	wg.Add(6)
	go carrier(0)
	go carrier(1)
	go other("bob", "2", "", pgx.QueryExecModeSimpleProtocol)
	go other("bob", "2", "", pgx.QueryExecModeCacheStatement) // prepared once, across RELOADs
	go other("carol", "3", "", pgx.QueryExecModeCacheStatement)
	go other("bob", "2", "Europe/Paris", pgx.QueryExecModeExec)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var killed int
console:
	for {
		select {
		case <-done:
			break console
		default:
		}
		out := f.console(t, "dba", "SHOW POOLS;\nSHOW CLIENTS;\nRELOAD;\nPAUSE;\nRESUME;\n")
		if !strings.Contains(out, "RELOAD") && !strings.Contains(out, "profiles reloaded") {
			t.Errorf("console: %s", out)
		}
		for _, line := range strings.Split(out, "\n") {
			cols := strings.Split(line, "|")
			if len(cols) > 6 && cols[1] == "alice" {
				f.console(t, "dba", "KILL "+cols[0]+";\n")
				killed++
				break
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if carried.Load() == 0 {
		t.Fatal("no carrying text ran to its end")
	}
	t.Logf("%d carrying texts, %d clients killed", carried.Load(), killed)
}

// killedErr reports whether err is what a console KILL of conn's client
// gives: the connection gone, its FATAL 57P01, or the cancel of a wait
// for a backend (57014) the kill cut short.
func killedErr(conn *pgx.Conn, err error) bool {
	var pe *pgconn.PgError
	return conn.IsClosed() || errors.As(err, &pe) && (pe.Code == "57P01" || pe.Code == "57014" && strings.Contains(pe.Message, "pool.wait_canceled"))
}

// TestRedteamCraftedStartupParameters: startup values are tried on a
// backend before the login is answered. Whatever a login sends (quotes
// and semicolons in a value, names of settings the client may not
// choose, options with -c, values PostgreSQL refuses), the login either
// fails or its lendings keep the identity, the read-only flag and the
// search path, no statement of the value runs, and the next borrower
// of the one backend sees the server's settings.
func TestRedteamCraftedStartupParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const state = "SELECT current_setting('request.user_id'), current_setting('default_transaction_read_only'), current_setting('search_path'), " +
		"current_setting('DateStyle'), current_setting('TimeZone'), current_setting('IntervalStyle'), current_setting('extra_float_digits'), current_setting('application_name'), " +
		"pg_catalog.pg_backend_pid()::text"
	read := func(conn *pgx.Conn) ([9]string, error) {
		var got [9]string
		err := conn.QueryRow(ctx, state, pgx.QueryExecModeSimpleProtocol).Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6], &got[7], &got[8])
		return got, err
	}
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	base, err := read(bob)
	if err != nil {
		t.Fatal(err)
	}
	bob.Close(ctx)
	for _, params := range []map[string]string{
		{"TimeZone": "UTC'; SELECT pg_sleep(3); --"},
		{"TimeZone": "UTC\"; SET request.user_id = '2"},
		{"TimeZone": "<a'b>5"},
		{"TimeZone": "<a;b>-3"},
		{"DateStyle": "SQL, DMY', 'x"},
		{"DateStyle": "German; SET request.user_id = 2"},
		{"IntervalStyle": "iso_8601'); SELECT pg_sleep(3); --"},
		{"extra_float_digits": "3; SET default_transaction_read_only = off"},
		{"extra_float_digits": "-16"},
		{"TIMEZONE": "Asia/Tokyo", "datestyle": "sql, dmy"},
		{"options": "-c request.user_id=2 -c default_transaction_read_only=off"},
		{"options": "-csearch_path=pg_temp,public"},
		{"request.user_id": "2"},
		{"default_transaction_read_only": "off"},
		{"search_path": "pg_temp, public"},
		{"role": "postgres"},
		{"session_authorization": "postgres"},
		{"statement_timeout": "0"},
		{"application_name": "x'; SELECT pg_sleep(3); --"},
	} {
		cfg, err := pgx.ParseConfig(f.dsn("alice"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range params {
			cfg.RuntimeParams[k] = v
		}
		start := time.Now()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v: the login took %v: a pg_sleep in a value ran", params, d)
		}
		server, serverErr := serverTakes(ctx, cluster.DSN(f.db), params)
		if server != nil && (err == nil) != (serverErr == nil) {
			t.Errorf("%v: login error %v, PostgreSQL's %v", params, err, serverErr)
		}
		if err == nil {
			got, err := read(conn)
			if server != nil && err == nil && [4]string(got[3:7]) != *server {
				t.Errorf("%v: the session has %v, PostgreSQL's %v", params, got[3:7], *server)
			}
			switch {
			case err != nil:
				t.Logf("%v: the first statement is refused: %v", params, err)
			case got[0] != "1" || got[1] != "on" || got[2] != base[2] || got[8] != base[8]:
				t.Errorf("%v: the lending shows user_id %s read_only %s search_path %q on backend %s", params, got[0], got[1], got[2], got[8])
			default:
				t.Logf("%v: taken: %v", params, got[3:8])
			}
			conn.Close(ctx)
		} else {
			t.Logf("%v: login refused: %v", params, err)
		}
		next := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
		got, err := read(next)
		next.Close(ctx)
		base[7], got[7] = "", "" // pgx names the application as it likes
		if err != nil || got != base {
			t.Errorf("%v: the next borrower sees %v (%v), want %v", params, got, err, base)
		}
	}
}

// serverTakes logs in to PostgreSQL itself with params when all of them
// are settings pgmoat passes on, and returns the DateStyle, TimeZone,
// IntervalStyle and extra_float_digits it put in force, or its refusal;
// nil for other params.
func serverTakes(ctx context.Context, dsn string, params map[string]string) (*[4]string, error) {
	for k := range params {
		switch strings.ToLower(k) {
		case "datestyle", "timezone", "intervalstyle", "extra_float_digits":
		default:
			return nil, nil
		}
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return &[4]string{}, err
	}
	defer conn.Close(ctx)
	var got [4]string
	err = conn.QueryRow(ctx, "SELECT current_setting('DateStyle'), current_setting('TimeZone'), current_setting('IntervalStyle'), current_setting('extra_float_digits')",
		pgx.QueryExecModeSimpleProtocol).Scan(&got[0], &got[1], &got[2], &got[3])
	return &got, err
}

// TestRedteamResetAfterCarrying: after a text that carried the client's
// SETs in the backend's session, RESET and SET TO DEFAULT must give the
// server's (or the startup) value back, as PostgreSQL does, on that
// backend and every later one, in simple and extended queries.
func TestRedteamResetAfterCarrying(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	if err := f.server.engine.SetProfiles(map[string]policy.Profile{
		"readonly": {Name: "readonly", AllowMultiStatement: true},
		"patient":  {Name: "patient"},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "Europe/Paris"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	show := func(mode pgx.QueryExecMode) [3]string {
		t.Helper()
		var got [3]string
		if err := conn.QueryRow(ctx, "SELECT current_setting('DateStyle'), current_setting('TimeZone'), current_setting('request.user_id')", mode).Scan(&got[0], &got[1], &got[2]); err != nil {
			t.Fatal(err)
		}
		return got
	}
	before := show(pgx.QueryExecModeSimpleProtocol)
	for _, reset := range []string{"RESET TimeZone; RESET DateStyle", "SET TimeZone TO DEFAULT; SET DateStyle TO DEFAULT"} {
		for _, s := range []string{"SET DateStyle = 'SQL, DMY'", "SET TimeZone = 'Asia/Tokyo'", "BEGIN; SELECT 1; COMMIT; SELECT 1"} {
			if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if got := show(pgx.QueryExecModeExec); got != [3]string{"SQL, DMY", "Asia/Tokyo", "1"} {
			t.Fatalf("after carrying: %v", got)
		}
		for _, s := range strings.Split(reset, "; ") {
			if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
			if got := show(mode); got != before {
				t.Errorf("%s, mode %v: %v, want %v", reset, mode, got, before)
			}
		}
		if _, err := conn.Exec(ctx, "BEGIN; SELECT 1; COMMIT; SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		if got := show(pgx.QueryExecModeSimpleProtocol); got != before {
			t.Errorf("%s, then a text that ends a block: %v, want %v", reset, got, before)
		}
	}
	if before[1] != "Europe/Paris" {
		t.Errorf("the startup TimeZone: %q", before[1])
	}
}

// TestRedteamIdentityPastBlockEnd: the statements after a COMMIT,
// ROLLBACK or COMMIT AND CHAIN in one simple Query run in a transaction
// the server begins itself; with or without the client's SETs carried,
// they must run with the identity, the profile's timeout and read-only.
func TestRedteamIdentityPastBlockEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	if err := f.server.engine.SetProfiles(map[string]policy.Profile{
		"readonly": {Name: "readonly", AllowMultiStatement: true, StatementTimeout: 3 * time.Second},
		"patient":  {Name: "patient"},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, withSets := range []bool{false, true} {
		conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
		if withSets {
			if _, err := conn.Exec(ctx, "SET DateStyle = 'SQL, DMY'"); err != nil {
				t.Fatal(err)
			}
		}
		for _, text := range []string{
			"BEGIN; SELECT 1; COMMIT; " + qInForce,
			"BEGIN; SELECT 1; ROLLBACK; " + qInForce,
			"BEGIN; SELECT 1; COMMIT AND CHAIN; " + qInForce + "; COMMIT",
			"BEGIN; END; " + qInForce,
			"START TRANSACTION; SELECT 1; COMMIT; SELECT 1; " + qInForce,
			"SELECT 1; BEGIN; COMMIT; " + qInForce,
		} {
			results, err := conn.PgConn().Exec(ctx, text).ReadAll()
			if err != nil {
				t.Errorf("sets %v, %s: %v", withSets, text, err)
				continue
			}
			var row []string
			for _, r := range results {
				if len(r.Rows) == 1 && len(r.Rows[0]) == 3 {
					row = []string{string(r.Rows[0][0]), string(r.Rows[0][1]), string(r.Rows[0][2])}
				}
			}
			if len(row) != 3 || row[0] != "1" || row[1] != "3s" || row[2] != "on" {
				t.Errorf("sets %v, %s: user_id, timeout, read-only %v", withSets, text, row)
			}
		}
		conn.Close(ctx)
	}
}
