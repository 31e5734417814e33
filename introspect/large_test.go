package introspect_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/introspect/schemagen"
)

// TestLoadLargeSchema introspects 5,000 tables (with keys, indexes,
// comments and foreign keys) completely. Its time is logged, not
// asserted: a timed assertion fails on a busy machine and proves nothing;
// make bench measures it (the introspection scenario of the report).
func TestLoadLargeSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 5,000 tables")
	}
	const n = 5000
	dsn := freshDB(t, "")
	start := time.Now()
	execSQL(t, dsn, schemagen.DDL(n, schemagen.Options{}))
	t.Logf("created %d tables in %v", n, time.Since(start).Round(time.Millisecond))

	conn := connect(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := introspect.Load(ctx, conn); err != nil { // warm the catalog caches once
		t.Fatal(err)
	}
	start = time.Now()
	s, err := introspect.Load(ctx, conn)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of %d relations in %v", len(s.Relations), elapsed.Round(time.Millisecond))
	if len(s.Relations) != n {
		t.Fatalf("relations %d, want %d", len(s.Relations), n)
	}
	last, _ := s.Relation("gen", schemagen.TableName(n-1))
	if last == nil || len(last.Columns) != 6 || len(last.Indexes) != 2 || len(last.ForeignKeys) != 1 {
		t.Fatalf("last table incomplete: %+v", last)
	}
	if first, _ := s.Relation("gen", schemagen.TableName(0)); len(first.ReferencedBy) != 1 {
		t.Errorf("first table referenced by %d", len(first.ReferencedBy))
	}
}
