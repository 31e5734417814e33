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
				if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil {
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
					if conn.IsClosed() {
						break // killed from the console
					}
					fail(err)
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
