package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// demoDatabase is the database the demo loads and the proxy serves.
const demoDatabase = "shop"

// demoOptions are the flags of `pgmoat demo`.
type demoOptions struct {
	proxyListen string
	mcpListen   string
	scale       int
	// postgres is the superuser DSN of an existing server to load the
	// shop into instead of starting a throwaway one (docker-compose).
	postgres string
	// allowUnsafe passes --allow-unsafe-backend-role on to the stack.
	allowUnsafe bool
}

func runDemo(e env, args []string) int {
	fs := newFlags("demo", e.stderr)
	var o demoOptions
	fs.StringVar(&o.proxyListen, "proxy-listen", config.DefaultProxyListen, "address of the PostgreSQL proxy")
	fs.StringVar(&o.mcpListen, "mcp-listen", config.DefaultMCPListen, "address of the MCP server (streamable HTTP at /mcp)")
	fs.IntVar(&o.scale, "scale", 1, "size of the shop data (1 ≈ 1k customers, 20k orders)")
	fs.StringVar(&o.postgres, "postgres", "", "superuser DSN of an existing PostgreSQL to load the shop into, instead of a throwaway one")
	allowUnsafe := allowUnsafeFlag(fs)
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	if o.scale < 1 || fs.NArg() > 0 {
		fmt.Fprintln(e.stderr, "pgmoat demo: --scale must be at least 1 and no arguments are taken")
		return exitUsage
	}
	o.allowUnsafe = *allowUnsafe
	if err := demo(e, o); err != nil {
		fmt.Fprintf(e.stderr, "pgmoat demo: %s\n", config.RedactDSN(err.Error()))
		return exitUsage
	}
	return exitOK
}

// demo runs the demo until e.ctx ends, then removes everything it started.
func demo(e env, o demoOptions) (err error) {
	say := func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
	if o.postgres != "" {
		readerDSN, err := loadIntoExisting(e.ctx, e.stdout, o.postgres, o.scale)
		if err != nil {
			return err
		}
		return runDemoStack(e, o, readerDSN)
	}
	say("Starting a throwaway PostgreSQL …")
	cluster, err := pgcluster.Start(e.ctx, pgcluster.Options{
		Progress: func(step string) { say("  %s", step) },
	})
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping PostgreSQL and removing %s …", cluster.Dir())
		err = errors.Join(err, cluster.Close())
		if err == nil {
			say("Done.")
		}
	}()
	if err := loadShop(e.ctx, e.stdout, cluster, o.scale); err != nil {
		return err
	}
	return runDemoStack(e, o, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, demoDatabase))
}

// runDemoStack serves the demo identities against readerDSN until
// interrupted.
func runDemoStack(e env, o demoOptions, readerDSN string) error {
	say := func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
	cfg := config.Demo(readerDSN)
	cfg.Proxy.Listen = o.proxyListen
	cfg.MCP.Listen = o.mcpListen
	cfg.Backend.AllowUnsafeRole = o.allowUnsafe
	say("Starting the proxy on %s and MCP on http://%s/mcp …", cfg.Proxy.Listen, cfg.MCP.Listen)
	st, err := startStack(e.ctx, io.Discard, cfg)
	if err != nil {
		return err
	}
	printDemoBanner(e.stdout, cfg)
	<-e.ctx.Done()
	say("\nInterrupted; shutting down …")
	return st.stop(5 * time.Second)
}

func loadShop(ctx context.Context, out io.Writer, cluster *pgcluster.Cluster, scale int) error {
	fmt.Fprintf(out, "Creating database %q and loading the shop data at scale %d …\n", demoDatabase, scale)
	if err := cluster.CreateDatabase(ctx, demoDatabase); err != nil {
		return fmt.Errorf("create database %s: %w", demoDatabase, err)
	}
	return loadShopInto(ctx, out, cluster.DSN(demoDatabase), scale)
}

func loadShopInto(ctx context.Context, out io.Writer, superuserDSN string, scale int) error {
	start := time.Now()
	err := shop.Load(ctx, superuserDSN, shop.Options{Scale: scale, Progress: progressPrinter(out)})
	if errors.Is(err, shop.ErrAlreadyLoaded) {
		fmt.Fprintln(out, "  the shop data is already there; using it")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load shop data: %w", err)
	}
	fmt.Fprintf(out, "  loaded in %s\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

// loadIntoExisting creates the shop database on an existing server (if
// missing), loads it, and returns the reader role's DSN for it.
func loadIntoExisting(ctx context.Context, out io.Writer, superuserDSN string, scale int) (string, error) {
	su, err := pgconn.ParseConfig(superuserDSN)
	if err != nil {
		return "", fmt.Errorf("--postgres: %s", config.RedactDSN(err.Error()))
	}
	conn, err := pgconn.ConnectConfig(ctx, su)
	if err != nil {
		return "", fmt.Errorf("--postgres: cannot connect (%s): %s", config.RedactDSN(superuserDSN), config.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	fmt.Fprintf(out, "Loading the shop data into %q on %s:%d at scale %d …\n", demoDatabase, su.Host, su.Port, scale)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+demoDatabase).ReadAll()
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // 42P04: it exists already
		return "", fmt.Errorf("create database %s: %w", demoDatabase, err)
	}
	su.Database = demoDatabase
	target := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", su.Host, su.Port, quoteDSNValue(su.User), demoDatabase)
	if su.Password != "" {
		target += " password=" + quoteDSNValue(su.Password)
	}
	if err := loadShopInto(ctx, out, target, scale); err != nil {
		return "", err
	}
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s", su.Host, su.Port,
		shop.ReaderRole, quoteDSNValue(shop.DefaultReaderPassword), demoDatabase), nil
}

func quoteDSNValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// progressPrinter prints one line per step, and for long steps at most one
// line per second with the running count.
func progressPrinter(out io.Writer) func(step string, done, total int64) {
	var mu sync.Mutex
	var last time.Time
	var lastStep string
	return func(step string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		finished := total > 0 && done >= total
		if step == lastStep && !finished && time.Since(last) < time.Second {
			return
		}
		last, lastStep = time.Now(), step
		if total > 0 {
			fmt.Fprintf(out, "  %-28s %10d / %d rows\n", step, done, total)
		} else {
			fmt.Fprintf(out, "  %s\n", step)
		}
	}
}

func printDemoBanner(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, `
pgmoat demo is running. Press Ctrl-C to stop and remove everything.

PostgreSQL proxy (users alice/alice and bob/bob, each sees only their own customers):
  psql postgres://alice:alice@%[1]s/%[2]s
  psql postgres://bob:bob@%[1]s/%[2]s

Try:  SELECT count(*) FROM customers;        -- only alice's
      DELETE FROM orders;                    -- refused: pgmoat: statement.kind ...
      SELECT set_config('%[3]s', '2', false); -- refused: clients cannot change their identity

pgbench through the proxy (prepared statements survive transaction pooling):
  pgbench -n -M prepared -c 16 -T 10 -f bench/shop-select.sql postgres://alice:alice@%[1]s/%[2]s

MCP over streamable HTTP at http://%[4]s/mcp (bearer tokens alice-token, bob-token):
  npx -y @modelcontextprotocol/inspector@2.12.0 --cli http://%[4]s/mcp --transport http \
      --header "Authorization: Bearer alice-token" --method tools/list

Admin console for DBAs (SHOW HELP lists the commands):
  psql postgres://dba:dba@%[1]s/pgmoat -c 'SHOW TOOLS' -c 'SHOW DENIALS'
Prometheus metrics: http://%[4]s/metrics
`, cfg.Proxy.Listen, demoDatabase, cfg.RLS.Setting, cfg.MCP.Listen)
}
