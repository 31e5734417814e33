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

// loginErr tries one login and returns its error (nil when it worked).
func (f *proxyFixture) loginErr(user, password string) error {
	dsn := strings.Replace(f.dsn(user), "password="+user, "password="+password, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol).Scan(&one)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestReconfigureLogins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	err := f.server.Reconfigure(Reconfig{
		Users: map[string]User{
			"alice": {Password: "alice2", Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
			"dave":  {Password: "dave", Identity: policy.Identity{UserID: "2", Profile: "patient"}},
		},
		Admins:   map[string]AdminUser{"ops": {Password: "ops", Role: AdminRoleAuditor}},
		Profiles: []string{"readonly", "patient"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The connected client keeps its identity and its row-level view.
	var n int
	if err := bob.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("connected bob after the change: %d rows, %v", n, err)
	}
	cases := []struct {
		user, password string
		wantState      string // "" = logs in
	}{
		{"dave", "dave", ""},
		{"alice", "alice2", ""},
		{"alice", "alice", "28P01"}, // old password
		{"bob", "bob", "28P01"},     // removed
	}
	for _, c := range cases {
		if got := sqlState(f.loginErr(c.user, c.password)); got != c.wantState {
			t.Errorf("login %s/%s: SQLSTATE %q, want %q", c.user, c.password, got, c.wantState)
		}
	}
	dave := f.connect(t, "dave", pgx.QueryExecModeSimpleProtocol)
	var timeout string
	if err := dave.QueryRow(ctx, "SELECT current_setting('statement_timeout')").Scan(&timeout); err != nil || timeout != "7s" {
		t.Fatalf("dave's profile timeout: %q, %v", timeout, err)
	}
	out := f.console(t, "dba", "SHOW POOLS;\n")
	if !strings.Contains(out, "password authentication failed") {
		t.Errorf("removed admin still logs in:\n%s", out)
	}
	out = f.console(t, "ops", "SHOW POLICY;\nRELOAD;\n")
	if !strings.Contains(out, "patient|statement_timeout|7s") || !strings.Contains(out, "admin.role") {
		t.Errorf("new auditor:\n%s", out)
	}
}

func TestReconfigureBadPasswordChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	err := f.server.Reconfigure(Reconfig{
		Users: map[string]User{
			"erin":  {Password: "erin", Identity: policy.Identity{UserID: "5"}},
			"frank": {Password: "SCRAM-SHA-256$broken", Identity: policy.Identity{UserID: "6"}},
		},
	})
	if err == nil || !strings.Contains(err.Error(), "user frank") {
		t.Fatalf("Reconfigure with a malformed verifier: %v", err)
	}
	if err := f.loginErr("alice", "alice"); err != nil {
		t.Fatalf("alice after a refused change: %v", err)
	}
	if got := sqlState(f.loginErr("erin", "erin")); got != "28P01" {
		t.Fatalf("erin from a refused change: SQLSTATE %q", got)
	}
	if out := f.console(t, "dba", "SHOW VERSION;\n"); !strings.Contains(out, "pgmoat test") {
		t.Fatalf("admin after a refused change:\n%s", out)
	}
}

// TestReconfigureDuringLogins swaps the logins while clients log in: each
// login sees one whole set or the other, and the race detector stays
// quiet.
func TestReconfigureDuringLogins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	sets := []Reconfig{
		{Users: map[string]User{"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}}}},
		{Users: map[string]User{
			"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
			"bob":   {Password: "bob", Identity: policy.Identity{UserID: "2"}},
		}},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var logins atomic.Int64
	for _, user := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := f.loginErr(user, user)
				logins.Add(1)
				if err != nil && (user == "alice" || sqlState(err) != "28P01") {
					t.Errorf("login %s: %v", user, err)
					return
				}
			}
		}()
	}
	for i := range 40 {
		if err := f.server.Reconfigure(sets[i%2]); err != nil {
			t.Error(err)
			break
		}
		// Logins run under each configuration before the next swap.
		seen := logins.Load()
		waitUntil(t, 20*time.Second, "logins under the new configuration", func() bool { return logins.Load() >= seen+2 })
	}
	close(stop)
	wg.Wait()
}
