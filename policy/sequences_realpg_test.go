package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect"
)

// kindsSchema has a relation of every kind pg_class holds in a user
// schema, and a partition whose parent has row-level security: reading
// the partition by its own name skips the parent's policies.
const kindsSchema = `
CREATE TABLE orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, uid int, total numeric);
CREATE SEQUENCE s;
CREATE SEQUENCE other.s2;
CREATE TYPE pair AS (a int, b int);
CREATE VIEW v AS SELECT id FROM orders;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM orders;
CREATE TABLE p (id int, uid int) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
ALTER TABLE p ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON p USING (uid = current_setting('request.user_id')::int);
INSERT INTO orders (uid, total) SELECT g, g FROM generate_series(1, 5) g;
INSERT INTO p VALUES (1, 1), (2, 2);
SELECT nextval('s'), nextval('s');
CREATE ROLE kinds_reader LOGIN PASSWORD 'kinds';
GRANT pg_read_all_data TO kinds_reader;
`

// TestSequencesAndOtherKindsAsRelations: on the online catalog, a name
// in FROM is judged by what kind of relation PostgreSQL will resolve it
// to. A sequence is a one-row relation whose last_value counts the rows
// every identity inserted, past row-level security (why pg_sequences and
// pg_sequence_last_value are denied); a partition read by its own name
// skips its parent's policies; a name the catalog does not list at all
// is denied rather than allowed because its schema is readable.
func TestSequencesAndOtherKindsAsRelations(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	admin, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA other;"+kindsSchema); err != nil {
		t.Fatal(err)
	}
	// Roles are the cluster's: drop this one before the database goes.
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY kinds_reader; DROP ROLE kinds_reader")
	}()
	snap, err := introspect.Load(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{
		DefaultProfile: {AllowSchemas: []string{"public", "other"}, SearchPath: []string{"public", "other"}}}})
	if err != nil {
		t.Fatal(err)
	}

	// What is at stake: a role that may read every table reads the
	// sequences and the partition the engine is asked about.
	rc, err := pgx.Connect(ctx, c.DSNFor("kinds_reader", "kinds", db))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	var last int64
	if err := rc.QueryRow(ctx, "SELECT last_value FROM s").Scan(&last); err != nil || last != 2 {
		t.Fatalf("the server's answer to a read of the sequence: %d, %v", last, err)
	}
	var n int
	if err := rc.QueryRow(ctx, "SELECT set_config('request.user_id', '1', false), (SELECT count(*) FROM p1)").Scan(new(string), &n); err != nil || n != 2 {
		t.Fatalf("rows of the partition read directly: %d, %v", n, err)
	}

	denied := []struct{ sql, rule string }{
		{"SELECT last_value FROM orders_id_seq", RuleSequence},
		{"SELECT * FROM s", RuleSequence},
		{"TABLE s", RuleSequence},
		{"SELECT * FROM public.s", RuleSequence},
		{`SELECT * FROM "s"`, RuleSequence},
		{`SELECT * FROM public."orders_id_seq"`, RuleSequence},
		{`SELECT * FROM U&"\0073"`, RuleSequence},
		{`SELECT * FROM U&"!0073" UESCAPE '!'`, RuleSequence},
		{"SELECT * FROM s2", RuleSequence},
		{"SELECT * FROM other.s2", RuleSequence},
		{"SELECT s.last_value, s.is_called FROM s", RuleSequence},
		{"SELECT s FROM s", RuleSequence},
		{"WITH x AS (SELECT last_value FROM s) SELECT * FROM x", RuleSequence},
		{"WITH RECURSIVE x AS (SELECT 1 UNION ALL SELECT 1 FROM s, x) SELECT * FROM x", RuleSequence},
		{"SELECT * FROM (SELECT last_value FROM s) q", RuleSequence},
		{"SELECT (SELECT last_value FROM s)", RuleSequence},
		{"SELECT * FROM orders WHERE id < (SELECT last_value FROM orders_id_seq)", RuleSequence},
		{"SELECT * FROM orders o, LATERAL (SELECT last_value FROM s) l", RuleSequence},
		{"SELECT * FROM orders o JOIN s ON true", RuleSequence},
		{"SELECT 1 UNION SELECT last_value FROM s", RuleSequence},
		{"SELECT EXISTS (SELECT FROM s WHERE last_value > 10)", RuleSequence},
		{"EXPLAIN SELECT * FROM s", RuleSequence},
		{"SELECT * FROM ONLY s", RuleSequence},
		// The functions that read or move a sequence are denied by name.
		{"SELECT nextval('s')", RuleFunction},
		{"SELECT currval('s')", RuleFunction},
		{"SELECT lastval()", RuleFunction},
		{"SELECT setval('s', 1)", RuleFunction},
		{"SELECT pg_sequence_last_value('s')", RuleFunction},
		{"SELECT * FROM pg_sequences", RuleRelation},
		// A partition by its own name skips the parent's policies.
		{"SELECT * FROM p1", RulePartition},
		{"SELECT * FROM public.p1", RulePartition},
		// Not relations one can read; the server would refuse them too.
		{"SELECT * FROM pair", RuleRelationKind},
		{"SELECT * FROM orders_pkey", RuleRelationKind},
		// Names the catalog does not list: default deny.
		{"SELECT * FROM nosuch", RuleRelationUnknown},
		{"SELECT * FROM public.nosuch", RuleRelationUnknown},
		{"SELECT * FROM other.orders", RuleRelationUnknown},
	}
	for _, tc := range denied {
		v := e.Decide(Identity{}, tc.sql)
		if v.Allowed || v.Rule != tc.rule || !strings.HasPrefix(v.Err().Error(), "pgmoat: "+tc.rule+":") {
			t.Errorf("%s: allowed=%v rule %q (%s), want denied by %s", tc.sql, v.Allowed, v.Rule, v.Reason, tc.rule)
		}
	}

	allowed := []string{
		"SELECT * FROM orders",
		"SELECT * FROM p",
		"SELECT * FROM v",
		"SELECT * FROM mv",
		"TABLE orders",
		"SELECT * FROM pg_class",
		"SELECT * FROM pg_catalog.pg_namespace",
		"SELECT table_name FROM information_schema.tables",
		"SELECT 's'::regclass",
		"SELECT pg_get_serial_sequence('orders', 'id')",
		"SELECT relname FROM pg_class WHERE relkind = 'S'",
		"SELECT null::pair",
		"WITH s AS (SELECT 1 AS last_value) SELECT last_value FROM s",
	}
	for _, sql := range allowed {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}

	// Offline (pgmoat check without a database) the engine cannot know
	// what a name is: the schema rule decides, as before.
	offline := newTestEngine(t)
	if v := offline.Decide(Identity{}, "SELECT * FROM s"); !v.Allowed {
		t.Errorf("offline: SELECT * FROM s denied by %s: %s", v.Rule, v.Reason)
	}
}
