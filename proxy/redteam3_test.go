package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// batchRows sends msgs with a Sync and returns the first column of each
// row and the SQLSTATE of each error, up to ReadyForQuery.
func batchRows(t *testing.T, fe *pgproto3.Frontend, msgs ...pgproto3.FrontendMessage) (rows, codes []string) {
	t.Helper()
	for _, m := range msgs {
		fe.Send(m)
	}
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			rows = append(rows, string(m.Values[0]))
		case *pgproto3.ErrorResponse:
			codes = append(codes, m.Code)
		case *pgproto3.ReadyForQuery:
			return rows, codes
		}
	}
}

func ext(sql string) []pgproto3.FrontendMessage {
	return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{}}
}

// Attacks on the identity a COMMIT inside one extended batch leaves,
// the DEALLOCATE spellings, and settings outliving their transaction,
// with one backend shared by two users.
func TestRedteam3(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()

	t.Run("identity after COMMIT inside a batch", func(t *testing.T) {
		fe := rawSession(t, f, "alice")
		var msgs []pgproto3.FrontendMessage
		msgs = append(msgs, ext("BEGIN")...)
		msgs = append(msgs, ext("SELECT current_setting('request.user_id', true)")...)
		msgs = append(msgs, ext("COMMIT")...)
		msgs = append(msgs, ext("SELECT coalesce(current_setting('request.user_id', true), '<none>')")...)
		msgs = append(msgs, ext("SELECT current_setting('transaction_read_only')")...)
		rows, codes := batchRows(t, fe, msgs...)
		t.Logf("rows=%q codes=%q", rows, codes)
		if len(codes) != 0 || (len(rows) != 3 || rows[1] != "1" || rows[2] != "on") {
			t.Errorf("after COMMIT in a batch: rows %q, want identity 1 and read only on", rows)
		}
	})

	t.Run("deallocate spellings", func(t *testing.T) {
		for _, sql := range []string{
			"DEALLOCATE x; SELECT pg_read_file('/etc/passwd')",
			"DEALLOCATE /* c */ ALL; SELECT 1",
			"DEALLOCATE PREPARE ALL; SELECT pg_sleep(0)",
			`DEALLOCATE "x"; SELECT current_user`,
		} {
			conn, err := pgx.Connect(ctx, f.dsn("alice"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
			if err == nil || !strings.Contains(err.Error(), "42501") {
				t.Errorf("%s: %v, want a 42501 denial", sql, err)
			}
			conn.Close(ctx)
		}
	})

	t.Run("server statement survives another's DEALLOCATE", func(t *testing.T) {
		bob, err := pgx.Connect(ctx, f.dsn("bob"))
		if err != nil {
			t.Fatal(err)
		}
		defer bob.Close(ctx)
		var n int
		if err := bob.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		alice, err := pgx.Connect(ctx, f.dsn("alice"))
		if err != nil {
			t.Fatal(err)
		}
		defer alice.Close(ctx)
		if err := alice.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{"DEALLOCATE ALL", "deallocate prepare all", "DEALLOCATE stmtcache_1"} {
			_, _ = alice.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		}
		if err := bob.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 0).Scan(&n); err != nil {
			t.Errorf("bob's cached statement after alice's DEALLOCATE: %v", err)
		}
	})

	t.Run("settings do not outlive the transaction", func(t *testing.T) {
		fe := rawSession(t, f, "alice")
		var msgs []pgproto3.FrontendMessage
		msgs = append(msgs, ext("SET application_name = 'leak77'")...)
		msgs = append(msgs, ext("SET IntervalStyle = 'iso_8601'")...)
		msgs = append(msgs, ext("SELECT 1/0")...)
		_, codes := batchRows(t, fe, msgs...)
		t.Logf("alice codes %q", codes)
		named := []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "s1", Query: "SET TimeZone = 'Asia/Tokyo'"}, &pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{}}
		_, codes = batchRows(t, fe, named...)
		t.Logf("alice named codes %q", codes)
		_, codes = batchRows(t, fe, &pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{})
		t.Logf("alice named again codes %q", codes)
		// a RELOAD between the named SET's runs
		t.Logf("reload: %s", f.console(t, "dba", "RELOAD"))
		_, codes = batchRows(t, fe, &pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{})
		t.Logf("alice named after reload codes %q", codes)
		rows, _ := batchRows(t, fe, ext("SELECT current_setting('TimeZone')")...)
		t.Logf("alice own TimeZone %q", rows)
		bob, err := pgx.Connect(ctx, f.dsn("bob"))
		if err != nil {
			t.Fatal(err)
		}
		defer bob.Close(ctx)
		var wm, efd, pcm, uid string
		if err := bob.QueryRow(ctx, "SELECT current_setting('application_name') || current_setting('IntervalStyle') || current_setting('TimeZone'), current_setting('extra_float_digits'), current_setting('plan_cache_mode'), current_setting('request.user_id', true)").Scan(&wm, &efd, &pcm, &uid); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(wm, "leak77") || strings.Contains(wm, "iso_8601") || strings.Contains(wm, "Tokyo") || pcm != "auto" || uid != "2" {
			t.Errorf("bob sees work_mem=%s extra_float_digits=%s plan_cache_mode=%s uid=%s", wm, efd, pcm, uid)
		}
	})

	t.Run("injected portal", func(t *testing.T) {
		fe := rawSession(t, f, "alice")
		var msgs []pgproto3.FrontendMessage
		msgs = append(msgs, ext("BEGIN")...)
		msgs = append(msgs, ext("SELECT 1")...)
		msgs = append(msgs, ext("COMMIT")...)
		msgs = append(msgs, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{})
		rows, codes := batchRows(t, fe, msgs...)
		if len(rows) != 1 || len(codes) != 1 || codes[0] != "34000" {
			t.Errorf("Execute of the unnamed portal after COMMIT in a batch: rows %q codes %q, want 34000", rows, codes)
		}
		_, codes = batchRows(t, fe, append(ext("SELECT 1/0"), &pgproto3.Execute{})...)
		t.Logf("after failed: %q", codes)
		rows, codes = batchRows(t, fe, &pgproto3.Execute{})
		t.Logf("fresh unnamed exec rows %q codes %q", rows, codes)
		if len(codes) == 0 {
			t.Errorf("Execute of unbound unnamed portal ran: rows %q", rows)
		}
	})
}

// The Executor's plan_cache_mode rides in its transaction only: a proxy
// client lent the same backend next plans as the server's default.
func TestRedteam3ExecutorPlanModeStaysInItsTransaction(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	x := NewExecutor(f.pool, f.server.engine, "request.user_id")
	for range 7 {
		if _, err := x.Query(ctx, policy.Identity{UserID: "1", Profile: "readonly"}, "SELECT count(*) FROM items WHERE id > $1", 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c, err := pgx.Connect(ctx, f.dsn("bob"))
		if err != nil {
			t.Fatal(err)
		}
		var pcm string
		if err := c.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')", mode).Scan(&pcm); err != nil {
			t.Fatal(err)
		}
		if pcm != "auto" {
			t.Errorf("%v: a proxy client sees plan_cache_mode=%s after the Executor", mode, pcm)
		}
		c.Close(ctx)
	}
	if _, err := x.Query(ctx, policy.Identity{UserID: "1", Profile: "readonly"}, "DEALLOCATE ALL"); err == nil {
		t.Errorf("the Executor ran DEALLOCATE ALL")
	} else {
		t.Logf("executor DEALLOCATE ALL: %v", err)
	}
	if _, err := x.Query(ctx, policy.Identity{UserID: "1", Profile: "readonly"}, "SELECT count(*) FROM items WHERE id > $1", 0); err != nil {
		t.Errorf("Executor after DEALLOCATE: %v", err)
	}
}
