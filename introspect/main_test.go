package introspect_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
)

var cluster *pgcluster.Cluster

func TestMain(m *testing.M) {
	// The large-schema test creates thousands of tables in one transaction,
	// which needs more lock slots than the default; the JIT test reads
	// pg_stat_statements.
	opts := pgcluster.Options{Settings: map[string]string{"max_locks_per_transaction": "1024",
		"shared_preload_libraries": "pg_stat_statements"}}
	os.Exit(pgcluster.Shared(m, opts, &cluster))
}

// freshDB creates a database, runs ddl in it and returns a superuser DSN.
func freshDB(t *testing.T, ddl string) string {
	t.Helper()
	dsn := cluster.DSN(pgcluster.NewDatabase(t, cluster))
	if ddl != "" {
		execSQL(t, dsn, ddl)
	}
	return dsn
}

func execSQL(t *testing.T, dsn, sql string) {
	t.Helper()
	conn := connect(t, dsn)
	if _, err := conn.Exec(context.Background(), sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("exec: %v", err)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func load(t *testing.T, dsn string) *introspect.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := introspect.Load(ctx, connect(t, dsn))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

func mustRelation(t *testing.T, s *introspect.Snapshot, schema, name string) *introspect.Relation {
	t.Helper()
	r, ok := s.Relation(schema, name)
	if !ok {
		t.Fatalf("relation %s.%s not in snapshot", schema, name)
	}
	return r
}

func mustColumn(t *testing.T, r *introspect.Relation, name string) *introspect.Column {
	t.Helper()
	c, ok := r.Column(name)
	if !ok {
		t.Fatalf("column %q not in %s", name, r.Name)
	}
	return c
}
