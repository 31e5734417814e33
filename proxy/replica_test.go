package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/policy"
)

// served is what one transaction saw of the host that ran it.
type served struct {
	port       int
	recovering bool
	userID     string
	items      int64
}

const qServed = `SELECT inet_server_port(), pg_is_in_recovery(), current_setting('request.user_id', true), (SELECT count(*) FROM items)`

func servedOn(ctx context.Context, conn *pgx.Conn) (served, error) {
	var s served
	err := conn.QueryRow(ctx, qServed).Scan(&s.port, &s.recovering, &s.userID, &s.items)
	return s, err
}

// waitHosts waits until cond holds of the pool's hosts.
func waitHosts(t *testing.T, p *Pool, what string, cond func([]HostStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(p.Hosts()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; hosts: %+v", what, p.Hosts())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func inRotation(port int) func([]HostStatus) bool {
	return func(hs []HostStatus) bool {
		for _, h := range hs {
			if strings.HasSuffix(h.Host, ":"+strconv.Itoa(port)) {
				return h.InRotation
			}
		}
		return false
	}
}

func outOfRotation(port int, why string) func([]HostStatus) bool {
	return func(hs []HostStatus) bool {
		for _, h := range hs {
			if strings.HasSuffix(h.Host, ":"+strconv.Itoa(port)) {
				return !h.InRotation && strings.Contains(h.Why, why)
			}
		}
		return false
	}
}

func allReplicasIn(hs []HostStatus) bool {
	for _, h := range hs[1:] {
		if !h.InRotation {
			return false
		}
	}
	return true
}

// Reads spread over both replicas and none reaches the primary while a
// replica qualifies, through both doors (proxy sessions in every query
// mode and the Executor), with each user's identity in force on every
// host; SHOW HOSTS, SHOW SERVERS, SHOW POOLS and the metrics name the
// hosts and their roles.
func TestReplicasServeEveryReadWithTheIdentity(t *testing.T) {
	t.Parallel()
	primary := privateCluster(t)
	f := newFixture(t, fixtureOptions{cluster: primary, replicas: 2, poolMax: 4, healthInterval: 100 * time.Millisecond})
	waitHosts(t, f.pool, "both replicas in rotation", allReplicasIn)
	ctx := context.Background()
	seen := map[int]int{}
	want := map[string]int64{"alice": 50, "bob": 50}
	ids := map[string]string{"alice": "1", "bob": "2"}
	for _, mode := range allModes {
		for user := range want {
			conn := f.connect(t, user, mode)
			for range 6 {
				s, err := servedOn(ctx, conn)
				if err != nil {
					t.Fatal(err)
				}
				if s.port == primary.Port() || !s.recovering {
					t.Fatalf("%s (%s) was served by the primary: %+v", user, mode, s)
				}
				if s.userID != ids[user] || s.items != want[user] {
					t.Fatalf("%s (%s) on port %d: user id %q, %d items", user, mode, s.port, s.userID, s.items)
				}
				seen[s.port]++
			}
		}
	}
	for _, r := range f.replicas {
		if seen[r.Port()] == 0 {
			t.Fatalf("replica on port %d served nothing: %v", r.Port(), seen)
		}
	}
	// The Executor (the MCP door) routes alike.
	x := NewExecutor(f.pool, f.server.engine, "request.user_id")
	xSeen := map[int64]bool{}
	for range 8 {
		res, err := x.Query(ctx, policy.Identity{UserID: "2", Profile: "readonly"}, qServed)
		if err != nil {
			t.Fatal(err)
		}
		row := res.Rows[0]
		if row[1] != true || row[2] != "2" || row[3] != int64(50) {
			t.Fatalf("executor row %v", row)
		}
		xSeen[int64(row[0].(int32))] = true
	}
	if xSeen[int64(primary.Port())] || len(xSeen) != 2 {
		t.Fatalf("executor served by ports %v", xSeen)
	}
	if st := f.pool.Stats(); st.Acquired > uint64(f.pool.cfg.Min+1) {
		t.Fatalf("the primary's pool lent %d backends beyond its warm-up", st.Acquired)
	}
	// A cancel reaches the replica running the statement: sent again
	// until the statement ends, so it does not matter when it starts.
	carol := f.connect(t, "carol", pgx.QueryExecModeSimpleProtocol)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = carol.PgConn().CancelRequest(ctx)
			}
		}
	}()
	_, err := carol.Exec(ctx, "SELECT count(*) FROM generate_series(1, 1000000000)")
	close(done)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "user request") {
		t.Fatalf("cancelled statement on a replica: %v", err)
	}

	out := f.console(t, "dba", "SHOW HOSTS;\nSHOW SERVERS;\nSHOW POOLS;\n")
	for _, want := range []string{"host|role|in_rotation|lag_ms",
		fmt.Sprintf("127.0.0.1:%d|primary|false|", primary.Port()),
		fmt.Sprintf("127.0.0.1:%d|replica|true|", f.replicas[0].Port()),
		fmt.Sprintf("127.0.0.1:%d|replica|true|", f.replicas[1].Port()),
		fmt.Sprintf("|127.0.0.1:%d|replica", f.replicas[0].Port()),
		"|transaction|false|"} {
		if !strings.Contains(out, want) {
			t.Fatalf("admin console lacks %q:\n%s", want, out)
		}
	}
	if got := gathered(t, f.reg, "pgmoat_host_in_rotation"); got != 2 {
		t.Fatalf("pgmoat_host_in_rotation sums to %v, want 2 (the replicas)", got)
	}
	if got := gathered(t, f.reg, "pgmoat_host_acquired_total"); got < 60 {
		t.Fatalf("pgmoat_host_acquired_total = %v", got)
	}
}

// churn writes on the primary until stop is closed, so that a paused
// replica falls behind.
func churn(t *testing.T, primary *pgcluster.Cluster, db string, stop chan struct{}) *sync.WaitGroup {
	t.Helper()
	ctx := context.Background()
	if err := primary.Exec(ctx, db, "CREATE TABLE churn (v int)"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgconn.Connect(ctx, primary.DSN(db))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Exec(ctx, "INSERT INTO churn VALUES (1)").ReadAll(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	return &wg
}

// portsOf runs n transactions and returns the ports that served them.
func portsOf(t *testing.T, conn *pgx.Conn, n int) map[int]int {
	t.Helper()
	out := map[int]int{}
	for range n {
		s, err := servedOn(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		out[s.port]++
	}
	return out
}

// A replica whose replay is paused falls behind the bound and leaves
// rotation while the primary writes; resumed, it comes back. A replica
// promoted leaves rotation for good. An idle primary is not lag: before
// the writes start, both replicas stay in rotation with the bound far
// below the time since the last transaction.
func TestReplicaLagPauseAndPromotion(t *testing.T) {
	t.Parallel()
	primary := privateCluster(t)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	f := newFixture(t, fixtureOptions{cluster: primary, replicas: 2, maxReplicaLag: 600 * time.Millisecond,
		healthInterval: 100 * time.Millisecond, logger: logger})
	waitHosts(t, f.pool, "both replicas in rotation", allReplicasIn)
	ctx := context.Background()
	r1, r2 := f.replicas[0], f.replicas[1]
	// Idle for several times the bound: still in rotation.
	idleSince := time.Now()
	for time.Since(idleSince) < 1500*time.Millisecond {
		if !allReplicasIn(f.pool.Hosts()) {
			t.Fatalf("a replica left rotation while the primary was idle: %+v", f.pool.Hosts())
		}
		time.Sleep(50 * time.Millisecond) // samples the idle spell under test; orders nothing
	}

	stop := make(chan struct{})
	wg := churn(t, primary, f.db, stop)
	defer func() { close(stop); wg.Wait() }()
	if err := r1.Exec(ctx, "postgres", "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	waitHosts(t, f.pool, "the paused replica out", outOfRotation(r1.Port(), "lagging"))
	if took := time.Since(paused); took > 5*time.Second {
		t.Fatalf("the paused replica left rotation after %s", took)
	}
	alice := f.connect(t, "alice", pgx.QueryExecModeExec)
	if got := portsOf(t, alice, 12); got[r1.Port()] != 0 || got[r2.Port()] != 12 {
		t.Fatalf("with %d paused, transactions went to %v", r1.Port(), got)
	}
	if err := r1.Exec(ctx, "postgres", "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, f.pool, "the resumed replica back", inRotation(r1.Port()))
	deadline := time.Now().Add(10 * time.Second)
	for portsOf(t, alice, 4)[r1.Port()] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the resumed replica serves nothing")
		}
	}

	if err := r2.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, f.pool, "the promoted replica out", outOfRotation(r2.Port(), "promoted"))
	if got := portsOf(t, alice, 12); got[r1.Port()] != 12 {
		t.Fatalf("with %d promoted, transactions went to %v", r2.Port(), got)
	}
	if countRecords(t, &logs, "host left rotation") < 2 || countRecords(t, &logs, "host joined rotation") < 3 {
		t.Fatalf("rotation changes not logged:\n%s", logs.b.String())
	}
}

// Killing a replica under load loses only the transactions in flight on
// it: those clients get 57P01 or 08006, every other transaction succeeds,
// and reconnected clients run on the replica left.
func TestReplicaKilledUnderLoad(t *testing.T) {
	t.Parallel()
	primary := privateCluster(t)
	f := newFixture(t, fixtureOptions{cluster: primary, replicas: 2, poolMax: 6, healthInterval: 100 * time.Millisecond})
	waitHosts(t, f.pool, "both replicas in rotation", allReplicasIn)
	r1, r2 := f.replicas[0], f.replicas[1]
	ctx := context.Background()
	const workers = 6
	var ok, lost atomic.Int64
	var onR1 atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"alice", "bob"}[w%2]
			for {
				conn, err := pgx.Connect(ctx, f.dsn(user))
				if err != nil {
					errs <- err
					return
				}
				for {
					select {
					case <-stop:
						conn.Close(ctx)
						return
					default:
					}
					tx, err := conn.Begin(ctx)
					var s served
					if err == nil {
						s, err = servedOnTx(ctx, tx)
					}
					if err == nil {
						err = tx.Commit(ctx)
					}
					var pe *pgconn.PgError
					if errors.As(err, &pe) && (pe.Code == "57P01" || pe.Code == "08006") || err != nil && conn.IsClosed() {
						lost.Add(1)
						break // reconnect
					}
					if err != nil {
						errs <- err
						conn.Close(ctx)
						return
					}
					ok.Add(1)
					if s.port == r1.Port() {
						onR1.Add(1)
					}
				}
				conn.Close(ctx)
			}
		}()
	}
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt() // a failed wait below stops the workers too
	// A worker's error ends a wait early: it is reported below.
	waitUntil(t, 10*time.Second, "20 transactions on the replica to kill", func() bool { return onR1.Load() >= 20 || len(errs) > 0 })
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, f.pool, "the killed replica out", outOfRotation(r1.Port(), ""))
	before := ok.Load()
	waitUntil(t, 20*time.Second, "100 transactions after the kill", func() bool { return ok.Load() >= before+100 || len(errs) > 0 })
	halt()
	close(errs)
	for err := range errs {
		t.Fatalf("a transaction not on the killed replica failed: %v", err)
	}
	if ok.Load() < before+100 {
		t.Fatalf("only %d transactions after the kill", ok.Load()-before)
	}
	if lost.Load() > workers {
		t.Fatalf("%d transactions lost with %d clients: more than were in flight", lost.Load(), workers)
	}
	alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if got := portsOf(t, alice, 5); got[r2.Port()] != 5 {
		t.Fatalf("after the kill, transactions went to %v", got)
	}
}

func servedOnTx(ctx context.Context, tx pgx.Tx) (served, error) {
	var s served
	err := tx.QueryRow(ctx, qServed).Scan(&s.port, &s.recovering, &s.userID, &s.items)
	return s, err
}

// With backend.primary never and no replica in rotation, a lending is
// refused with 08006 naming why each replica is out; the session goes on
// and is served once the replica is back.
func TestPrimaryNeverRefusesWithoutAReplica(t *testing.T) {
	t.Parallel()
	primary := privateCluster(t)
	f := newFixture(t, fixtureOptions{cluster: primary, replicas: 1, primaryMode: PrimaryNever,
		maxReplicaLag: 400 * time.Millisecond, healthInterval: 100 * time.Millisecond})
	waitHosts(t, f.pool, "the replica in rotation", allReplicasIn)
	r := f.replicas[0]
	ctx := context.Background()
	stop := make(chan struct{})
	wg := churn(t, primary, f.db, stop)
	defer func() { close(stop); wg.Wait() }()
	if err := r.Exec(ctx, "postgres", "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, f.pool, "the paused replica out", outOfRotation(r.Port(), "lagging"))
	alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	_, err := servedOn(ctx, alice)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "08006" || !strings.HasPrefix(pe.Message, "pgmoat: backend.no_host:") ||
		!strings.Contains(pe.Message, "lagging") {
		t.Fatalf("no host: %v", err)
	}
	if err := r.Exec(ctx, "postgres", "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, f.pool, "the replica back", inRotation(r.Port()))
	if s, err := servedOn(ctx, alice); err != nil || s.port != r.Port() {
		t.Fatalf("after resume: %+v, %v", s, err)
	}
}

func TestReplayLag(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	var s lsnSamples
	s.add(t0, 0x100)
	s.add(t0.Add(time.Second), 0x200)
	s.add(t0.Add(2*time.Second), 0x300)
	now := t0.Add(2500 * time.Millisecond)
	for _, tc := range []struct {
		name, replay, age string
		want              time.Duration
	}{
		{"caught up, last transaction long ago", "0/300", "3600", 0},
		{"ahead of the sample", "0/310", "", 0},
		{"one sample behind, recent transaction", "0/250", "0.05", 50 * time.Millisecond},
		{"one sample behind, old transaction", "0/250", "3600", 1500 * time.Millisecond},
		{"behind every sample", "0/50", "7", 7 * time.Second},
		{"never replayed a transaction, behind", "0/50", "", time.Duration(1<<63 - 1)},
		{"no replay position", "", "2", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.lag(now, tc.replay, tc.age); got != tc.want {
				t.Fatalf("lag = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := parseLSN("16/B374D848"); err != nil {
		t.Fatal(err)
	}
	if v, _ := parseLSN("1/2"); v != 1<<32|2 {
		t.Fatalf("parseLSN(1/2) = %x", v)
	}
}

func TestPickLeastOutstanding(t *testing.T) {
	t.Parallel()
	mk := func(max, lent int) *Pool {
		p := &Pool{cfg: PoolConfig{Max: max}, lent: map[*backend]struct{}{}}
		for range lent {
			p.lent[&backend{}] = struct{}{}
		}
		return p
	}
	in := &hostHealth{inRotation: true}
	out := &hostHealth{why: "lagging"}
	for _, tc := range []struct {
		name   string
		mode   string
		loads  [][2]int // max, lent per replica
		health []*hostHealth
		want   int // index of the replica, -1 primary, -2 error
	}{
		{"least busy", PrimaryFallback, [][2]int{{4, 3}, {4, 1}}, []*hostHealth{in, in}, 1},
		{"relative to size", PrimaryFallback, [][2]int{{10, 3}, {4, 2}}, []*hostHealth{in, in}, 0},
		{"out is skipped", PrimaryFallback, [][2]int{{4, 0}, {4, 3}}, []*hostHealth{out, in}, 1},
		{"fallback", PrimaryFallback, [][2]int{{4, 0}}, []*hostHealth{out}, -1},
		{"never", PrimaryNever, [][2]int{{4, 0}}, []*hostHealth{out}, -2},
		{"always, primary idle", PrimaryAlways, [][2]int{{4, 2}}, []*hostHealth{in}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &router{primary: mk(4, 1), mode: tc.mode}
			for i, l := range tc.loads {
				rep := &replica{pool: mk(l[0], l[1])}
				rep.health.Store(tc.health[i])
				r.replicas = append(r.replicas, rep)
			}
			got, err := r.pick(nil)
			switch {
			case tc.want == -2:
				var nh *NoHostError
				if !errors.As(err, &nh) || !strings.Contains(err.Error(), "lagging") {
					t.Fatalf("got %v, %v", got, err)
				}
			case tc.want == -1 && got != r.primary, tc.want >= 0 && got != r.replicas[tc.want].pool:
				t.Fatalf("picked %p (%v)", got, err)
			}
		})
	}
}
