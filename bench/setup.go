package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// Databases and roles a run creates. The passwords are fixed: the cluster
// lives only as long as the run and listens on loopback only.
const (
	pgbenchDB     = "pgbench"
	shopDB        = "shop"
	benchRole     = "bench_ro" // read-only role behind every pgbench target
	benchPassword = "bench_ro"
	peerRole      = "bench_peer" // role of the peer MCP servers, pinned to alice's identity
	peerPassword  = "bench_peer"
	proxyUser     = "bench" // pgmoat's own client login
	proxyPassword = "bench"
)

// benchRoleSQL creates the read-only login the poolers and direct runs use.
const benchRoleSQL = `CREATE ROLE bench_ro LOGIN PASSWORD 'bench_ro'`

// benchGrantSQL runs in the pgbench database.
const benchGrantSQL = `GRANT USAGE ON SCHEMA public TO bench_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench_ro`

// peerRoleSQL gives the peer servers what pgmoat's tokens give its MCP
// calls: the reader's rights with alice's user id in force, so row-level
// security returns the same rows to every server. The peers' only interface
// is SQL text, so the identity has to come from the role.
const peerRoleSQL = `CREATE ROLE bench_peer LOGIN PASSWORD 'bench_peer' IN ROLE pgmoat_reader;
ALTER ROLE bench_peer IN DATABASE shop SET request.user_id = '1'`

// startCluster starts PostgreSQL sized for the storm scenario.
func (e *env) startCluster(ctx context.Context) error {
	e.say("starting PostgreSQL …")
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		MaxConnections: e.o.stormClients + 4*e.o.pool + 100,
		Settings: map[string]string{
			"shared_buffers":            "512MB",
			"max_locks_per_transaction": "256",
			"log_min_messages":          "warning",
		},
		Progress: func(step string) { e.say("  %s", step) },
	})
	if err != nil {
		return err
	}
	e.cluster = c
	return nil
}

// loadPgbench creates and fills the pgbench database and the read-only role.
func (e *env) loadPgbench(ctx context.Context) error {
	c := e.cluster
	if err := c.CreateDatabase(ctx, pgbenchDB); err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(e.o.pgbenchScale),
		"-h", c.Host(), "-p", strconv.Itoa(c.Port()), "-U", pgcluster.Superuser, pgbenchDB)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}
	e.say("  pgbench -i -s %d took %s", e.o.pgbenchScale, time.Since(start).Round(time.Millisecond))
	if err := e.execSQL(ctx, "postgres", benchRoleSQL); err != nil {
		return err
	}
	return e.execSQL(ctx, pgbenchDB, benchGrantSQL)
}

// loadShop loads the shop demo and the peer role.
func (e *env) loadShop(ctx context.Context) error {
	if err := e.cluster.CreateDatabase(ctx, shopDB); err != nil {
		return err
	}
	start := time.Now()
	if err := shop.Load(ctx, e.cluster.DSN(shopDB), shop.Options{Scale: e.o.shopScale}); err != nil {
		return fmt.Errorf("load shop: %w", err)
	}
	e.say("  shop (scale %d) loaded in %s", e.o.shopScale, time.Since(start).Round(time.Millisecond))
	return e.execSQL(ctx, "postgres", peerRoleSQL)
}

// execSQL runs constant SQL as the superuser in db.
func (e *env) execSQL(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, e.cluster.DSN(db))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	return nil
}

// lookupGroups returns groups of customers alice manages, each with at
// least lookupPage+lookupSpare orders between them, so that every MCP
// lookup (the latest orders of one group) fills a whole page.
func (e *env) lookupGroups(ctx context.Context) ([][]int32, error) {
	conn, err := pgx.Connect(ctx, e.cluster.DSN(shopDB))
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctx, `SELECT c.id, count(*)::int FROM customers c JOIN orders o ON o.customer_id = c.id
		WHERE c.account_manager_id = $1 GROUP BY c.id ORDER BY c.id LIMIT 1000`, shop.AliceID)
	if err != nil {
		return nil, err
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[customerOrders])
	if err != nil {
		return nil, err
	}
	groups := groupCustomers(counts, lookupPage+lookupSpare)
	if len(groups) == 0 {
		return nil, fmt.Errorf("alice's customers have fewer than %d orders between them", lookupPage+lookupSpare)
	}
	return groups, nil
}

// customerOrders is how many orders one customer placed.
type customerOrders struct {
	ID     int32
	Orders int32
}

// groupCustomers cuts counts, in order, into runs of customers with at
// least want orders between them; a last run short of want is dropped.
func groupCustomers(counts []customerOrders, want int) [][]int32 {
	var groups [][]int32
	var cur []int32
	sum := 0
	for _, c := range counts {
		cur, sum = append(cur, c.ID), sum+int(c.Orders)
		if sum >= want {
			groups, cur, sum = append(groups, cur), nil, 0
		}
	}
	return groups
}

// tempDirFor makes a new directory under the run's temp dir (named from
// the prefix) that the server account can use: PgBouncer runs as that
// account, one directory per instance for its pid file and log.
func (e *env) tempDirFor(prefix string) (string, error) {
	dir, err := os.MkdirTemp(e.tmp, prefix)
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o777)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
