package proxy

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/xdg-go/scram"
	"go.uber.org/goleak"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/policy"
)

var cluster *pgcluster.Cluster

// testParallel is how many tests run at once unless -parallel says
// otherwise. The tests mostly wait on sockets and PostgreSQL (a serial run
// keeps about half a core busy), so more of them than the default
// GOMAXPROCS overlap usefully even on two cores.
const testParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		_ = flag.Set("test.parallel", strconv.Itoa(max(testParallel, runtime.GOMAXPROCS(0))))
	}
	// Room for the pools (4 backends by default, up to 20) and superuser
	// connections of testParallel tests at once.
	code := pgcluster.Shared(m, pgcluster.Options{MaxConnections: 250}, &cluster)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fixtureRoleSQL creates the role the fixtures' pools log in as, once per
// cluster. Roles belong to the cluster, and two sessions creating the same
// one at once collide on pg_authid's unique index, so fixtures of tests
// running in parallel take turns (fixtureRoleMu). Its password is stored
// as a cheap verifier (testVerifier), so that the pools' logins are cheap.
var fixtureRoleSQL = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'proxy_reader') THEN
    CREATE ROLE proxy_reader LOGIN PASSWORD '` + testVerifier("reader-pw") + `' NOSUPERUSER NOBYPASSRLS;
  END IF;
END $$;
`

// testIterations is the PBKDF2 iteration count of the test logins'
// SCRAM-SHA-256 verifiers. The exchange is the same at any count; the
// client derives its key with as many rounds as the verifier says, and
// at PostgreSQL's 4096 that was most of the CPU of login-heavy tests
// under -race (TestManyClientsParkAndWakeConcurrently: 17 s -> 5 s), on
// logins to pgmoat, on the pools' connections to PostgreSQL, and for each
// user of every Server built.
const testIterations = 16

// testVerifier is password's SCRAM-SHA-256 verifier with testIterations,
// in the form PostgreSQL stores and pgmoat's users accept. The salt is
// fixed: the verifiers are test fixtures, not secrets.
func testVerifier(password string) string {
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		panic(err)
	}
	salt := "pgmoat-test-salt"
	c, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: salt, Iters: testIterations})
	if err != nil {
		panic(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", testIterations, b64([]byte(salt)), b64(c.StoredKey), b64(c.ServerKey))
}

// fixtureLogins are the fixtures' logins to pgmoat, each a verifier of a
// password equal to the user's name, computed once.
var fixtureLogins = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dba", "audit"} {
		out[name] = testVerifier(name)
	}
	return out
})

// fixturePassword is what a fixture's server is configured with for user:
// the cheap verifier, or the plain password when clients log in with md5
// (which needs it).
func fixturePassword(o fixtureOptions, user string) string {
	if o.auth == AuthMD5 {
		return user
	}
	return fixtureLogins()[user]
}

var fixtureRoleMu sync.Mutex

func ensureFixtureRole(t testing.TB, admin *pgx.Conn) {
	t.Helper()
	fixtureRoleMu.Lock()
	defer fixtureRoleMu.Unlock()
	if _, err := admin.Exec(context.Background(), fixtureRoleSQL); err != nil {
		t.Fatal(err)
	}
}

// fixtureSQL is each fixture's database.
const fixtureSQL = `
CREATE TABLE items (id int PRIMARY KEY, owner int NOT NULL, label text NOT NULL);
INSERT INTO items SELECT i, 1 + i % 2, 'item ' || i FROM generate_series(1, 100) i;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON items USING (owner = NULLIF(current_setting('request.user_id', true), '')::int);
GRANT SELECT ON items TO proxy_reader;
CREATE TABLE item_notes (item_id int REFERENCES items (id), note text); -- makes \d items list "Referenced by"
GRANT SELECT ON item_notes TO proxy_reader;
`

// proxyFixture is one database with the fixture schema, a pool and a
// proxy server on a loopback port.
type proxyFixture struct {
	db   string
	pool *Pool
	// replicas are the streaming replicas fixtureOptions.replicas asked
	// for, in the order of the pool's hosts after the primary.
	replicas []*pgcluster.Cluster
	server   *Server
	addr     string
	reg      *prometheus.Registry
}

type fixtureOptions struct {
	poolMax        int
	poolMin        int
	acquireTimeout time.Duration
	timeout        time.Duration
	maxClientConn  int
	startupTimeout time.Duration
	maxMessageSize int
	poolMaxMessage int // the pool's MaxMessageSize; 0 = its default
	logger         *slog.Logger
	slowThreshold  time.Duration // readonly's; 0 = the default
	onSlow         func(SlowQuery)
	maxPerIdentity int           // 0 = the pool's default
	idleTxTimeout  time.Duration // 0 = the server's default
	auth           string        // how clients log in; "" = SCRAM, the default
	// cluster is the server the fixture uses; nil means the package's
	// shared one. Tests that restart or stop the server bring their own.
	cluster *pgcluster.Cluster
	// reloadProfiles makes RELOAD put the profiles it returns (given the
	// fixture's) in force, as serve's RELOAD does, instead of answering
	// with a fixed summary.
	reloadProfiles func(map[string]policy.Profile) map[string]policy.Profile
	// replicas starts that many streaming replicas of the fixture's
	// cluster (which must be the test's own) once its database is
	// ready, and lends from them (hosts.go).
	replicas       int
	maxReplicaLag  time.Duration
	primaryMode    string
	healthInterval time.Duration
	// backendPort, when set, is where the pool connects instead of the
	// cluster's port (a relay on loopback in front of it).
	backendPort int
}

func newFixture(t testing.TB, o fixtureOptions) *proxyFixture {
	t.Helper()
	ctx := context.Background()
	cluster := cluster
	if o.cluster != nil {
		cluster = o.cluster
	}
	db := pgcluster.NewDatabase(t, cluster)
	admin, err := pgx.Connect(ctx, cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	ensureFixtureRole(t, admin)
	if _, err := admin.Exec(ctx, fixtureSQL); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)

	if o.poolMax == 0 {
		o.poolMax = 4
	}
	// One after another: two base backups at once each force a checkpoint,
	// which can remove WAL the other's stream has not reached yet.
	var replicas []*pgcluster.Cluster
	var replicaCfgs []PoolConfig
	for range o.replicas {
		r := pgcluster.ReplicaForTest(t, cluster, pgcluster.Options{})
		replicas = append(replicas, r)
		replicaCfgs = append(replicaCfgs, PoolConfig{DSN: r.DSNFor("proxy_reader", "reader-pw", db)})
	}
	dsn := cluster.DSNFor("proxy_reader", "reader-pw", db)
	if o.backendPort != 0 {
		dsn = fmt.Sprintf("host=127.0.0.1 port=%d user=proxy_reader password=reader-pw dbname=%s sslmode=disable", o.backendPort, db)
	}
	pool, err := NewPool(PoolConfig{
		DSN: dsn, Min: o.poolMin, Max: o.poolMax,
		AcquireTimeout: o.acquireTimeout, MaxPerIdentity: o.maxPerIdentity, Logger: o.logger,
		Replicas: replicaCfgs, MaxReplicaLag: o.maxReplicaLag, Primary: o.primaryMode, HealthInterval: o.healthInterval,
		MaxMessageSize: o.poolMaxMessage,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	profiles := map[string]policy.Profile{
		"readonly": {Name: "readonly", StatementTimeout: o.timeout, SlowThreshold: o.slowThreshold},
		"patient":  {Name: "patient", StatementTimeout: 7 * time.Second},
	}
	engine, err := policy.New(policy.Options{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reload := func(context.Context) (string, error) { return "schema reloaded: 1 table", nil }
	if o.reloadProfiles != nil {
		reload = func(context.Context) (string, error) {
			if err := engine.SetProfiles(o.reloadProfiles(profiles)); err != nil {
				return "", err
			}
			return "profiles reloaded", nil
		}
	}
	srv, err := NewServer(Config{
		Engine: engine, Pool: pool, MaxClientConn: o.maxClientConn, Metrics: reg,
		StartupTimeout: o.startupTimeout, MaxMessageSize: o.maxMessageSize, Logger: o.logger, OnSlow: o.onSlow,
		IdleTransactionTimeout: o.idleTxTimeout, Auth: o.auth,
		Users: map[string]User{
			"alice": {Password: fixturePassword(o, "alice"), Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
			"bob":   {Password: fixturePassword(o, "bob"), Identity: policy.Identity{UserID: "2", Profile: "readonly"}},
			"carol": {Password: fixturePassword(o, "carol"), Identity: policy.Identity{UserID: "3", Profile: "patient"}},
		},
		Admin: AdminConfig{
			Users: map[string]AdminUser{"dba": {Password: fixturePassword(o, "dba")},
				"audit": {Password: fixturePassword(o, "audit"), Role: AdminRoleAuditor}},
			Profiles: []string{"readonly"},
			Version:  "test",
			Config:   func() [][2]string { return [][2]string{{"backend.dsn", "host=x password=********"}} },
			Tools: func() []ToolStats {
				return []ToolStats{{Name: "query_items", Calls: 3, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, RowsPerCall: 4}}
			},
			Reload: reload,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // registered first, so it runs after the server's cleanup
	addr := serveOn(t, srv)
	return &proxyFixture{db: db, pool: pool, replicas: replicas, server: srv, addr: addr, reg: reg}
}

func (f *proxyFixture) dsn(user string) string {
	host, port, _ := net.SplitHostPort(f.addr)
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable", host, port, user, user, f.db)
}

func (f *proxyFixture) connect(t *testing.T, user string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(f.dsn(user))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var allModes = []pgx.QueryExecMode{
	pgx.QueryExecModeSimpleProtocol,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeCacheStatement,
}

func TestRowLevelSecurityPerUserInEveryMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			for user, wantOwner := range map[string]int{"alice": 1, "bob": 2} {
				conn := f.connect(t, user, mode)
				for range 3 { // again and again, across transactions and backends
					var n, owners int
					err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT owner) FROM items WHERE owner = $1", wantOwner).Scan(&n, &owners)
					if err != nil {
						t.Fatal(err)
					}
					if n != 50 || owners != 1 {
						t.Fatalf("%s sees %d rows of owner %d", user, n, wantOwner)
					}
					var total int
					if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&total); err != nil {
						t.Fatal(err)
					}
					if total != 50 {
						t.Fatalf("%s sees %d rows in all, want only their 50", user, total)
					}
				}
			}
		})
	}
}

func TestInjectedSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{timeout: 1500 * time.Millisecond})
	ctx := context.Background()
	conn := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var timeout, uid, ro string
	err := conn.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('request.user_id'), current_setting('default_transaction_read_only')").Scan(&timeout, &uid, &ro)
	if err != nil {
		t.Fatal(err)
	}
	if timeout != "1500ms" || uid != "2" || ro != "on" {
		t.Fatalf("statement_timeout=%s request.user_id=%s read_only=%s", timeout, uid, ro)
	}
	var shown, path string
	if err := conn.QueryRow(ctx, "SHOW statement_timeout").Scan(&shown); err != nil || shown != "1500ms" {
		t.Fatalf("SHOW statement_timeout = %q, %v", shown, err)
	}
	// The policy engine resolves unqualified names against the profile's
	// search_path, so the backend must use the same one.
	if err := conn.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil || path != `"public"` {
		t.Fatalf("SHOW search_path = %q, %v", path, err)
	}
}

func TestDenialsKeepTheSessionUsable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	hostile := []string{
		"DELETE FROM items",
		"SET request.user_id = '2'",
		"SELECT set_config('request.user_id', '2', false)",
		"RESET ALL",
		"SET ROLE postgres",
		"COMMIT; DROP TABLE items",
		"SELECT pg_read_file('/etc/passwd')",
		"BEGIN READ WRITE",
	}
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			conn := f.connect(t, "alice", mode)
			for _, sql := range hostile {
				_, err := conn.Exec(ctx, sql)
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.HasPrefix(pgErr.Message, "pgmoat:") {
					t.Fatalf("%s: got %v, want a 42501 pgmoat denial", sql, err)
				}
				var uid string
				if err := conn.QueryRow(ctx, "SELECT current_setting('request.user_id')").Scan(&uid); err != nil || uid != "1" {
					t.Fatalf("after %q: user id %q, %v", sql, uid, err)
				}
			}
			if got := f.server.Denials(); len(got) == 0 || got[0].User != "alice" {
				t.Fatalf("denials not recorded: %+v", got)
			}
		})
	}
}

func TestDenialInsideTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	conn := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM items"); err == nil {
		t.Fatal("DELETE allowed")
	}
	// The denial failed the block, as an error of PostgreSQL's would.
	var n int
	var pe *pgconn.PgError
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); !errors.As(err, &pe) || pe.Code != "25P02" {
		t.Fatalf("in transaction after denial: %d, %v", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("after the rollback: %d, %v", n, err)
	}
}

func TestPreparedStatementsSurviveBackendChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 3})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"alice", "bob"}[i%2]
			cfg, _ := pgx.ParseConfig(f.dsn(user))
			cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			for j := range 40 {
				var owner int
				err := conn.QueryRow(ctx, "SELECT owner FROM items WHERE id = $1", 2+(j*2+i%2)%98).Scan(&owner)
				if errors.Is(err, pgx.ErrNoRows) {
					errs <- fmt.Errorf("%s: row %d not visible", user, j)
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if owner != 1+i%2 {
					errs <- fmt.Errorf("%s saw owner %d", user, owner)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := f.pool.Stats(); st.Open > 3 {
		t.Fatalf("pool opened %d connections, max 3", st.Open)
	}
}

func TestWrongPasswordAndUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(f.addr)
	for _, dsn := range []string{
		fmt.Sprintf("host=%s port=%s user=alice password=wrong dbname=%s sslmode=disable", host, port, f.db),
		fmt.Sprintf("host=%s port=%s user=mallory password=x dbname=%s sslmode=disable", host, port, f.db),
	} {
		_, err := pgx.Connect(ctx, dsn)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Fatalf("%s: got %v, want 28P01", dsn, err)
		}
	}
	_, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=alice password=alice dbname=otherdb sslmode=disable", host, port))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		t.Fatalf("wrong database: %v", err)
	}
}

func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{timeout: 200 * time.Millisecond})
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	_, err := conn.Exec(context.Background(), "SELECT pg_catalog.pg_sleep(2)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("got %v", err)
	}
	if pgErr.Code != "42501" { // pg_sleep is denied by policy; timeouts need a slow allowed query
		t.Logf("pg_sleep: %v", err)
	}
	_, err = conn.Exec(context.Background(), "SELECT count(*) FROM generate_series(1, 100000000)")
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("long query: got %v, want 57014", err)
	}
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("after timeout: %v", err)
	}
}

func TestGracefulShutdownLetsTransactionsFinish(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	idle := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	busy := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := busy.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		done <- f.server.Shutdown(sctx)
	}()
	// Shutdown closes the idle client's session and leaves the busy one.
	waitUntil(t, 10*time.Second, "shutdown to close the idle session", func() bool {
		f.server.mu.Lock()
		defer f.server.mu.Unlock()
		return f.server.closing && len(f.server.sessions) == 1
	})
	if _, err := idle.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("idle client still served during shutdown")
	}
	var n int
	if err := busy.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("transaction cut short: %v", err)
	}
	if _, err := busy.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// TestUnnamedStatementNeverCrossesClients: a client that parsed the
// unnamed statement in one transaction and binds it in the next must get
// its own statement, not what another client parsed on that backend since.
func TestUnnamedStatementNeverCrossesClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol).PgConn()
	b := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol).PgConn()
	if _, err := a.Prepare(ctx, "", "SELECT 'mine'::text", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Prepare(ctx, "", "SELECT 'theirs'::text", nil); err != nil {
		t.Fatal(err)
	}
	res := a.ExecPrepared(ctx, "", nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := string(res.Rows[0][0]); got != "mine" {
		t.Fatalf("alice's unnamed statement ran %q", got)
	}
}

// serveOn serves srv on a loopback port until the test ends and returns
// the address, once Serve has taken the listener: a test that never
// connects (one of the Executor's) may otherwise end and close the
// server before Serve has started, which Serve rightly refuses.
func serveOn(t testing.TB, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	for deadline := time.Now().Add(10 * time.Second); !serving(srv, l); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not take the listener")
		}
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("server close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String()
}

// serving reports whether srv has taken l into its listeners.
func serving(srv *Server, l net.Listener) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, have := range srv.listeners {
		if b, ok := have.(*backoffListener); ok {
			have = b.Listener // Serve's wrapper around l
		}
		if have == l {
			return true
		}
	}
	return false
}
