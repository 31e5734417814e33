package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// extQuery runs sql through pgx's Query, which in the cached-statement
// mode prepares it under a name once and binds it each time.
func extQuery(ctx context.Context, c *pgx.Conn, sql string, args ...any) (string, error) {
	rows, _ := c.Query(ctx, sql, args...)
	rows.Close()
	return rows.CommandTag().String(), rows.Err()
}

func showSetting(t *testing.T, c *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := c.QueryRow(context.Background(), "SELECT current_setting('"+name+"')").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A client SET in the extended protocol, prepared under a name as pgx
// does and executed again, is answered as PostgreSQL answers it and in
// force in the client's later transactions; it never reaches the
// backend's session, so the next client of the only backend does not
// see it.
func TestClientSettingInExtendedProtocol(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)

	if tag, err := extQuery(ctx, a, "SET application_name = 'ext-a'"); err != nil || tag != "SET" {
		t.Fatalf("SET application_name: %q, %v", tag, err)
	}
	if got := a.PgConn().ParameterStatus("application_name"); got != "ext-a" {
		t.Errorf("ParameterStatus application_name = %q", got)
	}
	if got := showSetting(t, a, "application_name"); got != "ext-a" {
		t.Fatalf("application_name after the extended SET = %q", got)
	}
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := tx.QueryRow(ctx, "SHOW application_name").Scan(&name); err != nil || name != "ext-a" {
		t.Fatalf("SHOW application_name in a transaction = %q, %v", name, err)
	}
	if _, err := extQuery(ctx, a, "SET extra_float_digits = 2"); !isRule(err, "settings.transaction") {
		t.Errorf("extended SET inside a transaction block: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The same text again: pgx binds its cached statement, which takes
	// the value again at each Execute.
	if _, err := extQuery(ctx, a, "SET application_name = 'other'"); err != nil {
		t.Fatal(err)
	}
	if _, err := extQuery(ctx, a, "SET application_name = 'ext-a'"); err != nil {
		t.Fatal(err)
	}
	if got := showSetting(t, a, "application_name"); got != "ext-a" {
		t.Fatalf("application_name after the cached SET ran again = %q", got)
	}
	if tag, err := extQuery(ctx, a, "RESET application_name"); err != nil || tag != "RESET" {
		t.Fatalf("RESET application_name: %q, %v", tag, err)
	}
	if got := showSetting(t, a, "application_name"); got == "ext-a" {
		t.Fatalf("application_name after RESET = %q", got)
	}

	// A prepared SET takes nothing at Parse, its value at each run.
	sd, err := a.Prepare(ctx, "set_name", "SET application_name = 'prepared'")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.ParamOIDs) != 0 || len(sd.Fields) != 0 {
		t.Errorf("description of a SET: params %v, fields %v", sd.ParamOIDs, sd.Fields)
	}
	if got := showSetting(t, a, "application_name"); got == "prepared" {
		t.Fatal("a Parse of a SET took its value")
	}
	for range 2 {
		if _, err := extQuery(ctx, a, "set_name"); err != nil {
			t.Fatal(err)
		}
		if got := showSetting(t, a, "application_name"); got != "prepared" {
			t.Fatalf("application_name after the prepared SET ran = %q", got)
		}
		if _, err := a.Exec(ctx, "SET application_name = 'between'"); err != nil {
			t.Fatal(err)
		}
	}

	// The only backend, lent to the next client, never carried it.
	b := f.connect(t, "bob", pgx.QueryExecModeCacheStatement)
	if got := showSetting(t, b, "application_name"); got == "between" || got == "prepared" || got == "ext-a" {
		t.Fatalf("the next client of the backend sees application_name %q", got)
	}
}

// A TimeZone the server does not know is refused at the extended SET's
// Execute with the server's error, through the extended protocol's error
// path; the session keeps its zone and stays usable. A parameter in SET
// gets the server's syntax error.
func TestClientSettingInExtendedProtocolRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	if _, err := extQuery(ctx, a, "SET TimeZone = 'Europe/Paris'"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"SET TimeZone = 'Nowhere/Land'", "SET TIME ZONE '/etc/localtime'"} {
		_, err := a.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Close()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "22023" {
			t.Fatalf("%s: %v, want the server's 22023", sql, err)
		}
		if got := showSetting(t, a, "TimeZone"); got != "Europe/Paris" {
			t.Fatalf("after %s: TimeZone = %q", sql, got)
		}
		if got := a.PgConn().ParameterStatus("TimeZone"); got != "Europe/Paris" {
			t.Fatalf("after %s: ParameterStatus TimeZone = %q", sql, got)
		}
	}
	_, err := a.PgConn().ExecParams(ctx, "SET application_name = $1", [][]byte{[]byte("x")}, nil, nil, nil).Close()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" {
		t.Fatalf("SET with a parameter: %v, want 42601", err)
	}
	if got := showSetting(t, a, "application_name"); got == "x" {
		t.Fatal("a SET with a parameter took it")
	}
}

// In a pipeline the SET's answers keep their place: a SET ahead of a
// SELECT in the same batch is in force for it; one a later error of its
// batch rolls back, as the server rolls it back, is not kept; one after
// a SELECT inside a transaction is refused in its place, after the
// SELECT's rows.
func TestClientSettingInExtendedPipeline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	pc := a.PgConn()

	results := func(sqls ...string) []*pgconn.Result {
		t.Helper()
		p := pc.StartPipeline(ctx)
		for _, sql := range sqls {
			p.SendQueryParams(sql, nil, nil, nil, nil)
		}
		if err := p.Sync(); err != nil {
			t.Fatal(err)
		}
		var out []*pgconn.Result
		for {
			r, err := p.GetResults()
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				out = append(out, &pgconn.Result{Err: err})
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if rr, ok := r.(*pgconn.ResultReader); ok {
				out = append(out, rr.Read())
				continue
			}
			if _, ok := r.(*pgconn.PipelineSync); ok || r == nil {
				break
			}
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	got := results("SET application_name = 'piped'", "SELECT current_setting('application_name')")
	if len(got) != 2 || got[0].Err != nil || got[0].CommandTag.String() != "SET" || got[1].Err != nil || len(got[1].Rows) != 1 || string(got[1].Rows[0][0]) != "piped" {
		t.Fatalf("SET then SELECT in one batch: %+v", got)
	}
	if v := pc.ParameterStatus("application_name"); v != "piped" {
		t.Errorf("ParameterStatus after the batch = %q", v)
	}

	got = results("SET application_name = 'undone'", "SELECT 1/0")
	var pe *pgconn.PgError
	if len(got) != 2 || got[0].Err != nil || !errors.As(got[1].Err, &pe) || pe.Code != "22012" {
		t.Fatalf("SET then a failing SELECT: %+v", got)
	}
	if v := showSetting(t, a, "application_name"); v != "piped" {
		t.Fatalf("application_name after its batch failed = %q, want the earlier one", v)
	}
	if v := pc.ParameterStatus("application_name"); v != "piped" {
		t.Errorf("ParameterStatus after the failed batch = %q", v)
	}

	got = results("BEGIN", "SELECT 42", "SET application_name = 'late'", "SELECT 43")
	if len(got) != 3 || got[0].Err != nil || got[1].Err != nil || string(got[1].Rows[0][0]) != "42" || !isRule(got[2].Err, "settings.transaction") {
		t.Fatalf("SET after a SELECT in a transaction: %+v", got)
	}
	if _, err := a.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if v := showSetting(t, a, "application_name"); v != "piped" {
		t.Fatalf("application_name after the refused SET = %q", v)
	}
}
