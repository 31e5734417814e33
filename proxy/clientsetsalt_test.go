package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A batch whose SET DateStyle is rolled back by a later error of the
// same batch leaves the client under the DateStyle it had: its prepared
// statements must go back to the server-side names of that DateStyle
// too. Left under the names of the DateStyle the batch undid, a
// statement of the client is bound where another client of the identity
// prepared the same text under that DateStyle (b first), or is prepared
// under the restored one into the name the other client binds next (a
// first): either reads '01/02/2020' under the other client's DateStyle.
// One backend, so both clients meet on it. The batch fails on the
// server, or at pgmoat's refusal of its statement.
func TestFailedBatchSetRenamesStatements(t *testing.T) {
	t.Parallel()
	for _, failing := range []string{"SELECT 1/0", deniedSQL} {
		for _, bFirst := range []bool{false, true} {
			name := failing + "/a first"
			if bFirst {
				name = failing + "/b first"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				failedBatchSetRenames(t, failing, bFirst)
			})
		}
	}
}

func failedBatchSetRenames(t *testing.T, failing string, bFirst bool) {
	const (
		sql = "SELECT '01/02/2020'::date::text"
		mdy = "2020-01-02"
		dmy = "2020-02-01"
	)
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := pgconn.Connect(ctx, f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := a.Prepare(ctx, "s", sql, nil); err != nil {
		t.Fatal(err)
	}
	runA := func() string {
		t.Helper()
		r := a.ExecPrepared(ctx, "s", nil, nil, nil).Read()
		if r.Err != nil || len(r.Rows) != 1 {
			t.Fatalf("a's statement: %v, %d rows", r.Err, len(r.Rows))
		}
		return string(r.Rows[0][0])
	}
	if got := runA(); got != mdy {
		t.Fatalf("a under MDY reads %q", got)
	}
	batch := &pgconn.Batch{}
	batch.ExecParams("SET DateStyle = 'ISO, DMY'", nil, nil, nil, nil)
	batch.ExecParams(failing, nil, nil, nil, nil)
	if _, err := a.ExecBatch(ctx, batch).ReadAll(); err == nil {
		t.Fatal("the batch did not fail")
	}
	res, err := a.Exec(ctx, "SHOW DateStyle").ReadAll()
	if err != nil || string(res[0].Rows[0][0]) != "ISO, MDY" {
		t.Fatalf("a's DateStyle after the failed batch: %v %v", res, err)
	}
	b := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	if _, err := b.Exec(ctx, "SET DateStyle = 'ISO, DMY'", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	runB := func() string {
		t.Helper()
		var got string
		if err := b.QueryRow(ctx, sql).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if bFirst {
		if got := runB(); got != dmy {
			t.Fatalf("b under DMY reads %q", got)
		}
		if got := runA(); got != mdy {
			t.Fatalf("a under MDY reads %q after b prepared the text under DMY; want %s", got, mdy)
		}
		return
	}
	if got := runA(); got != mdy {
		t.Fatalf("a under MDY reads %q", got)
	}
	if got := runB(); got != dmy {
		t.Fatalf("b under DMY reads %q after a prepared the text again; want %s", got, dmy)
	}
}
