package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/policy"
)

// everyTypeSQL is a table with a column of every common type, for the
// Executor's codecs to decode concurrently.
const everyTypeSQL = `
CREATE TABLE every_type (
  id int PRIMARY KEY, b bool, i2 int2, i8 int8, n numeric(12,3), r real, f float8, money money,
  t text, vc varchar(20), ch char(4), by bytea, d date, ts timestamp, tz timestamptz, tm time,
  tmz timetz, iv interval, u uuid, j json, jb jsonb, ia int[], ta text[], ip inet, net cidr,
  mac macaddr, pt point, bits bit varying(8), tr tstzrange, x xml, tsv tsvector, oid oid);
INSERT INTO every_type
SELECT g, g % 2 = 0, g, g::int8 * 1000000000, g / 7.0, g / 3.0, g / 9.0, g, 'text ' || g, 'vc' || g, 'ch',
  decode(md5(g::text), 'hex'), date '2024-01-01' + g, timestamp '2024-01-01' + g * interval '1 hour',
  timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', time '10:00' + g * interval '1 second',
  timetz '10:00+02', g * interval '1 day', md5(g::text)::uuid, json_build_object('g', g),
  jsonb_build_object('g', g, 'a', array[g, g]), array[g, g + 1], array['a' || g, NULL], '10.0.0.1'::inet + g,
  '10.0.0.0/8', '08:00:2b:01:02:03', point(g, -g), (g % 256)::bit(8)::varbit,
  tstzrange(timestamptz '2024-01-01 00:00+00', timestamptz '2024-01-01 00:00+00' + g * interval '1 day'),
  xmlparse(content '<g>' || g || '</g>'), to_tsvector('simple', 'word' || g), g
FROM generate_series(1, 200) g;
GRANT SELECT ON every_type TO proxy_reader;
`

// Under -race: pgbench in extended and prepared mode through the proxy,
// concurrent Executor (MCP) calls decoding every common column type, and
// the admin console looping SHOW SERVERS / CLIENTS / POOLS / STATS /
// TOOLS and a RELOAD that changes every profile's statement_timeout (so
// lent backends get their settings rewritten while SHOW SERVERS reads
// them), with metrics scraped on the side. The race detector fails the
// test on any unsynchronized access; no client may see an error.
func TestStressUnderRace(t *testing.T) {
	t.Parallel()
	var flip atomic.Int64
	f := newFixture(t, fixtureOptions{poolMax: 12, acquireTimeout: 20 * time.Second, timeout: 30 * time.Second,
		reloadProfiles: func(ps map[string]policy.Profile) map[string]policy.Profile {
			out := map[string]policy.Profile{}
			extra := time.Duration(flip.Add(1)%2) * time.Second
			for name, p := range ps {
				p.StatementTimeout = 30*time.Second + extra
				out[name] = p
			}
			return out
		}})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, everyTypeSQL); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)

	pgbench := needTool(t, "pgbench")
	dir := t.TempDir()
	scripts := map[string]string{
		"extended": "\\set id random(1, 200)\nSELECT label FROM items WHERE id = :id;\nSELECT * FROM every_type WHERE id = :id;\n",
		"prepared": "\\set id random(1, 200)\nBEGIN;\nSELECT * FROM every_type WHERE id >= :id ORDER BY id LIMIT 5;\nSELECT count(*) FROM items WHERE owner = 1;\nCOMMIT;\n",
	}
	const run = 6 // seconds of pgbench load
	done := make(chan struct{})
	var failures []string
	var failMu sync.Mutex
	fail := func(format string, args ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		failMu.Unlock()
	}

	var load sync.WaitGroup
	for mode, user := range map[string]string{"extended": "alice", "prepared": "bob"} {
		path := filepath.Join(dir, mode+".sql")
		if err := os.WriteFile(path, []byte(scripts[mode]), 0o644); err != nil {
			t.Fatal(err)
		}
		load.Add(1)
		go func() {
			defer load.Done()
			cmd := exec.Command(pgbench, "-n", "-M", mode, "-c", "6", "-j", "2", "-T", fmt.Sprint(run), "-f", path)
			cmd.Env = f.realClientEnv(user)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "number of failed transactions: 0") {
				fail("pgbench -M %s: %v\n%s", mode, err, out)
			}
		}()
	}

	var side sync.WaitGroup
	x := NewExecutor(f.pool, f.server.engine, "")
	ids := []policy.Identity{{UserID: "1", Profile: "readonly"}, {UserID: "2", Profile: "readonly"}, {UserID: "3", Profile: "patient"}}
	var mcpCalls atomic.Int64
	for i := range 4 {
		side.Add(1)
		go func() {
			defer side.Done()
			id := ids[i%len(ids)]
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				from := 1 + n%190
				res, err := x.Query(ctx, id, "SELECT * FROM every_type WHERE id BETWEEN $1 AND $2 AND u <> $3 AND tz > $4 AND t <> $5 AND n > $6 ORDER BY id",
					from, from+9, [16]byte{}, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "none", -1.5)
				if err != nil {
					fail("executor as %v: %v", id, err)
					return
				}
				if len(res.Rows) != 10 || len(res.Rows[0]) != 32 {
					fail("executor as %v: %d rows of %d columns, want 10 of 32", id, len(res.Rows), len(res.Rows[0]))
					return
				}
				mcpCalls.Add(1)
			}
		}()
	}
	var consoleRounds atomic.Int64
	side.Add(1)
	go func() {
		defer side.Done()
		cfg, err := pgx.ParseConfig(strings.Replace(f.dsn("dba"), "dbname="+f.db, "dbname="+AdminDatabase, 1))
		if err != nil {
			fail("admin dsn: %v", err)
			return
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		dba, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			fail("admin console: %v", err)
			return
		}
		defer dba.Close(ctx)
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, cmd := range []string{"SHOW SERVERS", "SHOW CLIENTS", "SHOW POOLS", "SHOW STATS", "SHOW TOOLS", "RELOAD"} {
				rows, err := dba.Query(ctx, cmd)
				if err == nil {
					for rows.Next() {
					}
					err = rows.Err()
				}
				if err != nil {
					fail("admin %s: %v", cmd, err)
					return
				}
			}
			if _, err := f.reg.Gather(); err != nil {
				fail("metrics: %v", err)
				return
			}
			consoleRounds.Add(1)
		}
	}()

	load.Wait()
	close(done)
	side.Wait()
	for _, msg := range failures {
		t.Error(msg)
	}
	if mcpCalls.Load() == 0 || consoleRounds.Load() == 0 {
		t.Fatalf("no concurrency to speak of: %d executor calls, %d console rounds", mcpCalls.Load(), consoleRounds.Load())
	}
	t.Logf("%d executor calls and %d admin-console rounds beside pgbench", mcpCalls.Load(), consoleRounds.Load())
}
