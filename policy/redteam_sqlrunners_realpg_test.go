package policy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/introspect"
)

// sqlRunnerSchema is a table under row-level security keyed on
// request.user_id, the contrib extensions whose stable functions run SQL
// text (tablefunc's crosstab and connectby, xml2's xpath_table), and a
// plain role that reads the table as identity 1.
const sqlRunnerSchema = `
CREATE EXTENSION tablefunc;
CREATE EXTENSION xml2;
CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL, body text NOT NULL, parent int);
INSERT INTO notes VALUES (1, '1', 'mine', NULL), (2, '2', 'bob-secret', 1);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (owner = current_setting('request.user_id', true));
CREATE ROLE runner_reader LOGIN PASSWORD 'runner';
GRANT SELECT ON notes TO runner_reader;
`

// sqlRunnerAttacks are statements that hand SQL text, or the pieces of
// SQL text, to an extension function declared STABLE: the function runs
// it through SPI, out of the policy's sight, so set_config, pg_sleep and
// any relation are one string away. Each is denied by name.
var sqlRunnerAttacks = []string{
	`SELECT * FROM crosstab('select owner, body, body from notes, (select set_config(''request.user_id'', ''2'', false)) s') AS t(a text, b text)`,
	`SELECT * FROM public.crosstab('select ''x''::text, ''y''::text, pg_sleep(1)::text') AS t(a text, b text)`,
	`SELECT * FROM crosstab2('select ''x''::text, ''y''::text, ''z''::text')`,
	`SELECT * FROM crosstab3('select 1')`,
	`SELECT * FROM crosstab4('select 1')`,
	`SELECT * FROM crosstab('select 1', 1) AS t(a text)`,
	`SELECT * FROM crosstab('select 1', 'select 2') AS t(a text)`,
	`SELECT * FROM ROWS FROM (crosstab('select 1')) AS t(a text)`,
	`SELECT (crosstab2('select 1')).row_name`,
	`SELECT ('select 1'::text).crosstab2`,
	`SELECT * FROM connectby('notes', 'id', 'parent', '1', 0) AS t(id int, parent int, level int)`,
	`SELECT * FROM connectby('notes', 'id', 'parent', 'id', '1', 0, '~') AS t(id int, parent int, level int, branch text, pos int)`,
	`SELECT * FROM xpath_table('id', 'body', 'notes', '/a', 'true') AS t(id int, v text)`,
	`SELECT 'crosstab'::regproc`,
}

// TestExtensionSQLRunnersAreDenied installs tablefunc and xml2, shows
// that crosstab really runs its text with set_config on the server
// (identity 1 reads identity 2's row), and that the engine, judging on
// the introspected catalog as the binary does, denies every way of
// calling these functions.
func TestExtensionSQLRunnersAreDenied(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	admin, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, sqlRunnerSchema).ReadAll(); err != nil {
		t.Fatal(err)
	}
	// Roles are the cluster's: drop this one before the database goes.
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY runner_reader; DROP ROLE runner_reader").ReadAll()
	}()

	// What the denial protects: as a plain role with identity 1, the
	// crosstab text changes the identity and reads identity 2's row.
	cfg, err := pgconn.ParseConfig(c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = "runner_reader", "runner"
	cfg.RuntimeParams["request.user_id"] = "1"
	reader, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(context.Background())
	got := column(ctx, t, reader, `SELECT b FROM crosstab('select s.x, n.owner, n.body from (select set_config(''request.user_id'', ''2'', false) x) s, notes n') AS t(a text, b text)`)
	if len(got) != 1 || got[0] != "bob-secret" {
		t.Fatalf("crosstab as identity 1 read %q; the fixture no longer shows the attack", got)
	}

	pc, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := introspect.Load(ctx, pc)
	_ = pc.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t)
	e.SetFunctions(oracleCatalog{snap})
	for _, sql := range sqlRunnerAttacks {
		if v := e.Decide(Identity{}, sql); v.Allowed || v.Rule != RuleFunction {
			t.Errorf("%s: allowed=%v rule %q (%s); want %s", sql, v.Allowed, v.Rule, v.Reason, RuleFunction)
		}
	}
}
