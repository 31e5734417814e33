package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/xdg-go/scram"

	"github.com/pgmoat/pgmoat/policy"
)

// startupsFixture is f's configuration served again with at most max
// logins at once, each given timeout, and its own metrics.
func startupsFixture(t *testing.T, f *proxyFixture, max int, timeout time.Duration) (*proxyFixture, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := f.server.cfg
	cfg.MaxStartups, cfg.StartupTimeout, cfg.Metrics = max, timeout, reg
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &proxyFixture{db: f.db, pool: f.pool, server: srv, addr: serveOn(t, srv)}, reg
}

// holdStartups opens n connections that never send a byte and waits
// until the server counts n logins in progress.
func holdStartups(t *testing.T, addr string, reg *prometheus.Registry, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	waitUntil(t, 10*time.Second, "the startup places to fill", func() bool {
		return gathered(t, reg, "pgmoat_proxy_startups") == float64(n)
	})
}

// A flood of half-open logins that fills proxy.max_startups must not
// take away a logged-in client's way to stop its own statement: a
// cancel request (which carries no credentials and costs a lookup) is
// honoured while every startup place is taken, as PostgreSQL honours one
// while it answers "too many clients" to logins.
func TestRedDoorCancelWhileStartupsAreFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	tf, reg := startupsFixture(t, f, 2, time.Minute)
	ctx := context.Background()
	carol := tf.connect(t, "carol", pgx.QueryExecModeSimpleProtocol)
	su, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)

	ran := make(chan error, 1)
	go func() { _, err := carol.Exec(ctx, "SELECT count(*) FROM generate_series(1, 400000000)"); ran <- err }()
	running := func() bool {
		var n int
		err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()").Scan(&n)
		return err == nil && n > 0
	}
	waitUntil(t, 10*time.Second, "the statement to run", func() bool {
		select {
		case err := <-ran:
			t.Fatalf("the statement ended before the cancel: %v", err)
		default:
		}
		return running()
	})
	holdStartups(t, tf.addr, reg, 2)
	defer func() { // whatever happened, stop the statement
		_, _ = su.Exec(ctx, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()")
	}()

	if err := carol.PgConn().CancelRequest(ctx); err != nil {
		t.Logf("cancel request: %v", err)
	}
	var pe *pgconn.PgError
	select {
	case err := <-ran:
		if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "user request") {
			t.Fatalf("the cancelled statement: %v, want 57014 on user request", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancel request sent while the startup places were taken did not stop the statement")
	}
	if got := gathered(t, reg, "pgmoat_proxy_startups"); got != 2 {
		t.Errorf("pgmoat_proxy_startups = %v after the cancel, want the 2 held", got)
	}
}

// doorConn is a raw client of a door test: TLS when asked for, and what
// it heard.
type doorConn struct {
	raw net.Conn
	c   net.Conn // raw, or the TLS connection over it
}

func doorDial(t *testing.T, addr string) *doorConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &doorConn{raw: c, c: c}
}

func (d *doorConn) write(t *testing.T, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.c.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// answer reads the one-byte answer to an SSLRequest or GSSENCRequest.
func (d *doorConn) answer(t *testing.T) byte {
	t.Helper()
	var b [1]byte
	if _, err := io.ReadFull(d.c, b[:]); err != nil {
		t.Fatalf("answer to the encryption request: %v", err)
	}
	return b[0]
}

// startTLS asks for TLS and completes the handshake.
func (d *doorConn) startTLS(t *testing.T) {
	t.Helper()
	d.write(t, &pgproto3.SSLRequest{})
	if b := d.answer(t); b != 'S' {
		t.Fatalf("answer to the SSLRequest: %q", b)
	}
	tc := tls.Client(d.raw, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	d.c = tc
}

// rest is every byte the proxy sends until it closes the connection.
func (d *doorConn) rest() []byte {
	out, _ := io.ReadAll(d.c)
	return out
}

// onlyFatal checks that out is exactly one FATAL ErrorResponse of code
// whose message starts with prefix, and nothing before or after it.
func onlyFatal(t *testing.T, what string, out []byte, code, prefix string) {
	t.Helper()
	fe := pgproto3.NewFrontend(bytes.NewReader(out), io.Discard)
	msg, err := fe.Receive()
	er, ok := msg.(*pgproto3.ErrorResponse)
	if err != nil || !ok || er.Severity != "FATAL" || er.Code != code || !strings.HasPrefix(er.Message, prefix) {
		t.Errorf("%s: first message %#v, %v; want FATAL %s %s", what, msg, err, code, prefix)
		return
	}
	if more, err := fe.Receive(); err == nil {
		t.Errorf("%s: after the FATAL came %#v", what, more)
	}
}

// afterNegotiation checks that out starts with the
// NegotiateProtocolVersion PostgreSQL 15 sends a client of a newer minor
// version or with _pq_. options (3.0, and those options), which it
// sends before any refusal, and returns what follows it.
func afterNegotiation(t *testing.T, what string, out []byte, options ...string) []byte {
	t.Helper()
	fe := pgproto3.NewFrontend(bytes.NewReader(out), io.Discard)
	msg, err := fe.Receive()
	npv, ok := msg.(*pgproto3.NegotiateProtocolVersion)
	if err != nil || !ok || npv.NewestMinorProtocol != pgproto3.ProtocolVersion30 || strings.Join(npv.UnrecognizedOptions, ",") != strings.Join(options, ",") {
		t.Fatalf("%s: first message %#v, %v; want NegotiateProtocolVersion 3.0 %q", what, msg, err, options)
	}
	return out[1+int(binary.BigEndian.Uint32(out[1:5])):]
}

// noAuthRequest checks that out holds no authentication request: no 'R'
// message header, whatever else is there.
func noAuthRequest(t *testing.T, what string, out []byte) {
	t.Helper()
	for i := 0; i+5 <= len(out); i++ {
		if out[i] == 'R' && out[i+1] == 0 && out[i+2] == 0 && out[i+3] == 0 {
			t.Errorf("%s: an authentication request was sent: %q", what, out)
			return
		}
	}
}

// Attacks on the door that held: every early exit of a login (a client
// gone before its first byte, a bad packet, each encryption request in
// each order, a second SSLRequest inside TLS, a plain-text startup after
// the 'S', direct TLS, a stalled or dropped handshake, a trickled
// startup packet, a client that hangs up inside SCRAM, a cancel request,
// a refusal of proxy.tls.require for each kind of startup packet) ends
// as PostgreSQL would end it, tells a client in the clear nothing but
// the refusal (no authentication request, no parameter), and gives its
// startup place back: afterwards pgmoat_proxy_startups is 0 and a real
// login works. The startup timeout runs from accept, so a trickle of one
// byte at a time does not stretch a login past it.
func TestRedDoorEarlyExitsHoldNoPlace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	const timeout = 2 * time.Second
	reg := prometheus.NewRegistry()
	cfg := f.server.cfg
	cfg.TLS, cfg.RequireTLS, cfg.MaxStartups, cfg.StartupTimeout, cfg.Metrics = selfSigned(t), true, 64, timeout, reg
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOn(t, srv)
	startup := func(params map[string]string) *pgproto3.StartupMessage {
		return &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: params}
	}
	alice := map[string]string{"user": "alice", "database": f.db}
	const required = "pgmoat: proxy.tls.require: "

	cases := []struct {
		name   string
		attack func(t *testing.T, d *doorConn)
	}{
		{"gone before a byte", func(t *testing.T, d *doorConn) { _ = d.raw.Close() }},
		{"startup packet length 3", func(t *testing.T, d *doorConn) {
			_, _ = d.c.Write([]byte{0, 0, 0, 3})
			onlyFatal(t, "length 3", d.rest(), "08P01", "pgmoat: protocol.startup: ")
		}},
		{"plain startup", func(t *testing.T, d *doorConn) {
			d.write(t, startup(alice))
			onlyFatal(t, "plain startup", d.rest(), "28000", required)
		}},
		{"plain startup at the console", func(t *testing.T, d *doorConn) {
			d.write(t, startup(map[string]string{"user": "dba", "database": AdminDatabase}))
			onlyFatal(t, "console", d.rest(), "28000", required)
		}},
		{"plain startup of a made-up name", func(t *testing.T, d *doorConn) {
			d.write(t, startup(map[string]string{"user": "mallory", "database": f.db}))
			onlyFatal(t, "made-up name", d.rest(), "28000", required)
		}},
		{"plain replication startup", func(t *testing.T, d *doorConn) {
			d.write(t, startup(map[string]string{"user": "alice", "database": f.db, "replication": "database"}))
			onlyFatal(t, "replication", d.rest(), "28000", required)
		}},
		{"plain protocol 3.2 startup with a _pq_ option", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
				Parameters: map[string]string{"user": "alice", "database": f.db, "_pq_.anything": "on"}})
			out := d.rest()
			noAuthRequest(t, "3.2", out)
			onlyFatal(t, "3.2", afterNegotiation(t, "3.2", out, "_pq_.anything"), "28000", required)
		}},
		{"plain protocol 3.3 startup", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.StartupMessage{ProtocolVersion: 3<<16 | 3, Parameters: alice})
			out := d.rest()
			noAuthRequest(t, "3.3", out)
			onlyFatal(t, "3.3", afterNegotiation(t, "3.3", out), "28000", required)
		}},
		{"GSSENCRequest then plain startup", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.GSSEncRequest{})
			if b := d.answer(t); b != 'N' {
				t.Fatalf("answer to GSSENCRequest: %q", b)
			}
			d.write(t, startup(alice))
			onlyFatal(t, "GSS then plain", d.rest(), "28000", required)
		}},
		{"GSSENCRequest then SSLRequest then startup", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.GSSEncRequest{})
			if b := d.answer(t); b != 'N' {
				t.Fatalf("answer to GSSENCRequest: %q", b)
			}
			d.startTLS(t)
			d.write(t, startup(alice))
			fe := pgproto3.NewFrontend(d.c, d.c)
			if msg, err := fe.Receive(); err != nil {
				t.Fatal(err)
			} else if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
				t.Fatalf("over TLS after GSS and SSL: %#v", msg)
			}
		}},
		{"plain startup after the S", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.SSLRequest{})
			if b := d.answer(t); b != 'S' {
				t.Fatalf("answer to the SSLRequest: %q", b)
			}
			d.write(t, startup(alice))
			out := d.rest()
			noAuthRequest(t, "plain after S", out)
			if len(out) > 0 && out[0] != 0x15 { // at most a TLS alert
				t.Errorf("plain startup after the S: heard %q", out)
			}
		}},
		// PostgreSQL no longer takes a request's code once that
		// negotiation is over (TLS in place rules out GSS too): it reads
		// the code as a protocol version and refuses it.
		{"second SSLRequest inside TLS", func(t *testing.T, d *doorConn) {
			d.startTLS(t)
			d.write(t, &pgproto3.SSLRequest{})
			onlyFatal(t, "second SSLRequest", d.rest(), "0A000", "pgmoat: protocol.startup: unsupported frontend protocol 1234.5679")
		}},
		{"GSSENCRequest inside TLS", func(t *testing.T, d *doorConn) {
			d.startTLS(t)
			d.write(t, &pgproto3.GSSEncRequest{})
			onlyFatal(t, "GSS inside TLS", d.rest(), "0A000", "pgmoat: protocol.startup: unsupported frontend protocol 1234.5680")
		}},
		{"second GSSENCRequest", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.GSSEncRequest{})
			if b := d.answer(t); b != 'N' {
				t.Fatalf("answer to GSSENCRequest: %q", b)
			}
			d.write(t, &pgproto3.GSSEncRequest{})
			onlyFatal(t, "second GSS", d.rest(), "0A000", "pgmoat: protocol.startup: unsupported frontend protocol 1234.5680")
		}},
		{"direct TLS with ALPN postgresql", func(t *testing.T, d *doorConn) {
			tc := tls.Client(d.raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"postgresql"}})
			if err := tc.Handshake(); err == nil {
				t.Fatal("a TLS handshake without SSLRequest succeeded")
			}
			noAuthRequest(t, "direct TLS", d.rest())
		}},
		{"SSLRequest, then silence in the handshake", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.SSLRequest{})
			_ = d.answer(t)
			start := time.Now()
			out := d.rest()
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("a stalled TLS handshake was held %v, past the startup timeout %v", took, timeout)
			}
			noAuthRequest(t, "stalled handshake", out)
		}},
		{"half a ClientHello, then hang up", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.SSLRequest{})
			_ = d.answer(t)
			_, _ = d.raw.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
			_ = d.raw.Close()
		}},
		{"startup packet one byte at a time", func(t *testing.T, d *doorConn) {
			d.startTLS(t)
			pkt, _ := startup(alice).Encode(nil)
			start := time.Now()
			for _, b := range pkt { // len(pkt) × 250 ms is far past the timeout
				if _, err := d.c.Write([]byte{b}); err != nil {
					break
				}
				time.Sleep(250 * time.Millisecond) // the trickle's pace is the attack
			}
			_ = d.rest()
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("a trickled startup packet was read for %v, past the startup timeout %v", took, timeout)
			}
		}},
		{"hang up inside SCRAM", func(t *testing.T, d *doorConn) {
			d.startTLS(t)
			d.write(t, startup(alice))
			fe := pgproto3.NewFrontend(d.c, d.c)
			if _, err := fe.Receive(); err != nil {
				t.Fatal(err)
			}
			fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=nonce0123456789")})
			_ = fe.Flush()
			if _, err := fe.Receive(); err != nil {
				t.Fatal(err)
			}
			_ = d.raw.Close()
		}},
		{"plain cancel request with a made-up key", func(t *testing.T, d *doorConn) {
			d.write(t, &pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}})
			if out := d.rest(); len(out) != 0 {
				t.Errorf("a cancel request was answered %q", out)
			}
		}},
		{"cancel request with a 3.2 key inside TLS", func(t *testing.T, d *doorConn) {
			d.startTLS(t)
			d.write(t, &pgproto3.CancelRequest{ProcessID: 1, SecretKey: bytes.Repeat([]byte{7}, 32)})
			if out := d.rest(); len(out) != 0 {
				t.Errorf("a cancel request was answered %q", out)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.attack(t, doorDial(t, addr))
		})
	}
	t.Cleanup(func() {
		waitUntil(t, 10*time.Second, "every startup place to be given back", func() bool {
			return gathered(t, reg, "pgmoat_proxy_startups") == 0 && srv.cancelOnly.Load() == 0
		})
		if n := gathered(t, reg, "pgmoat_proxy_startups_refused_total"); n != 0 {
			t.Errorf("%v connections refused for max_startups, want none", n)
		}
		conn, err := pgx.Connect(context.Background(), strings.Replace(
			(&proxyFixture{db: f.db, addr: addr}).dsn("alice"), "sslmode=disable", "sslmode=require", 1))
		if err != nil {
			t.Fatalf("a real login after the attacks: %v", err)
		}
		_ = conn.Close(context.Background())
	})
}

// A plain-text password's SCRAM keys are pgmoat's to derive, so their
// iteration count must not single its user out: beside verifiers of
// another count, a plain-text user announced PostgreSQL's 4096 rounds
// while made-up names announced the verifiers' count, which told a
// stranger the plain-text user exists. It announces what the door's
// verifiers and decoys do, also after a reload changes that count, and
// still logs in.
func TestRedDoorPlainTextUserIterationsDoNotStandOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	users := func(verifier func(string) string) map[string]User {
		return map[string]User{
			"alice": {Password: verifier("alice"), Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
			"bob":   {Password: verifier("bob"), Identity: policy.Identity{UserID: "2", Profile: "readonly"}},
			"pat":   {Password: "pat-password", Identity: policy.Identity{UserID: "9", Profile: "readonly"}},
		}
	}
	for _, c := range []struct {
		name     string
		verifier func(string) string
	}{
		{"verifiers of 16 rounds", testVerifier},
		{"verifiers of 20 rounds", func(pw string) string { return verifierWithIters(pw, 20) }},
	} {
		if err := f.server.Reconfigure(Reconfig{Users: users(c.verifier), Admins: map[string]AdminUser{"dba": {Password: "dba"}}}); err != nil {
			t.Fatal(err)
		}
		_, fake := serverFirst(t, f.addr, f.db, "mallory")
		_, verifier := serverFirst(t, f.addr, f.db, "alice")
		if _, plain := serverFirst(t, f.addr, f.db, "pat"); plain != fake || plain != verifier {
			t.Errorf("%s: a plain-text user announces %s rounds, a verifier %s, a made-up name %s", c.name, plain, verifier, fake)
		}
		if o := scramLogin(t, f.addr, f.db, "pat", scramAttempt{password: "pat-password"}); !o.loggedIn {
			t.Errorf("%s: the plain-text user cannot log in: %s", c.name, o.shape("pat"))
		}
	}
}

// verifierWithIters is a SCRAM-SHA-256 verifier of password with iters
// rounds.
func verifierWithIters(password string, iters int) string {
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		panic(err)
	}
	c, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "pgmoat-test-salt", Iters: iters})
	if err != nil {
		panic(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iters, b64([]byte(c.Salt)), b64(c.StoredKey), b64(c.ServerKey))
}

// Enumeration attempts that held, against instances built from one
// configuration and one proxy.auth_secret: a verifier user, a plain-text
// user and a made-up name each get the same salt and rounds from every
// instance, at both doors, and a failed login under each looks the same
// message for message; a plain-text password that changes gets a new
// salt; a user removed by a reload shows exactly the salt an instance
// that never knew the name shows, so it reads as a name that never
// existed rather than as a removed one.
func TestRedDoorEnumerationAcrossInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	const secret = "0123456789abcdef0123456789abcdef"
	pat := map[string]User{"pat": {Password: "pat-password", Identity: policy.Identity{UserID: "9", Profile: "readonly"}}}
	one, two, never := restarted(t, f, secret, pat), restarted(t, f, secret, pat), restarted(t, f, secret, nil)

	type first struct{ salt, iters string }
	at := func(addr, db, user string) first {
		s, i := serverFirst(t, addr, db, user)
		return first{s, i}
	}
	for _, db := range []string{f.db, AdminDatabase} {
		shapes := map[string]string{}
		for _, user := range []string{"alice", "pat", "mallory"} {
			if a, b := at(one, db, user), at(two, db, user); a != b {
				t.Errorf("%s at %s: %v from one instance, %v from the other", user, db, a, b)
			}
			o := scramLogin(t, one, db, user, scramAttempt{password: "wrong"})
			shapes[o.shape(user)] = user
		}
		if len(shapes) != 1 {
			t.Errorf("at %s failed logins differ by name: %v", db, shapes)
		}
		if a, m := at(one, db, "alice"), at(one, db, "mallory"); a.iters != m.iters || len(a.salt) != len(m.salt) {
			t.Errorf("at %s: verifier %v, made-up name %v", db, a, m)
		}
	}

	// A third instance of the same secret, to reload.
	cfg := f.server.cfg
	cfg.AuthSecret, cfg.Metrics = secret, nil
	cfg.Users = map[string]User{"alice": cfg.Users["alice"], "pat": pat["pat"]}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOn(t, s)
	before := at(addr, f.db, "pat")
	if other := at(one, f.db, "pat"); other != before {
		t.Errorf("pat: %v here, %v from an instance of the same secret", before, other)
	}
	reload := func(users map[string]User) {
		t.Helper()
		if err := s.Reconfigure(Reconfig{Users: users, Admins: cfg.Admin.Users}); err != nil {
			t.Fatal(err)
		}
	}
	reload(map[string]User{"alice": cfg.Users["alice"], "pat": {Password: "pat-new-password", Identity: pat["pat"].Identity}})
	if changed := at(addr, f.db, "pat"); changed.salt == before.salt {
		t.Errorf("pat's password changed and the salt did not: %v", changed)
	}
	reload(map[string]User{"alice": cfg.Users["alice"]})
	removed, nameless := at(addr, f.db, "pat"), at(never, f.db, "pat")
	if removed != nameless {
		t.Errorf("pat removed: %v; from an instance that never knew pat: %v", removed, nameless)
	}
	if o := scramLogin(t, addr, f.db, "pat", scramAttempt{password: "pat-new-password"}); o.loggedIn {
		t.Error("a removed user logged in")
	}
}

// A flood of logins refused for proxy.max_startups does not flood the
// log: the refusals are counted one by one, the record "startups full"
// is written at most eventBurst times a window; and every refused
// client hears the 53300 (its startup packet read first, so that the
// refusal is not lost to a reset).
func TestRedDoorStartupRefusalsDoNotFloodTheLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	var logged syncBuffer
	reg := prometheus.NewRegistry()
	cfg := f.server.cfg
	cfg.MaxStartups, cfg.StartupTimeout, cfg.Metrics = 1, time.Minute, reg
	cfg.Logger = slog.New(slog.NewJSONHandler(&logged, nil))
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOn(t, srv)
	holdStartups(t, addr, reg, 1)
	const flood = 30
	for range flood {
		d := doorDial(t, addr)
		d.write(t, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"user": "mallory", "database": f.db}})
		onlyFatal(t, "past the cap", d.rest(), "53300", "pgmoat: proxy.max_startups: ")
	}
	if n := gathered(t, reg, "pgmoat_proxy_startups_refused_total"); n != flood {
		t.Errorf("pgmoat_proxy_startups_refused_total = %v, want %d", n, flood)
	}
	n := 0
	for _, rec := range logged.records(t) {
		if rec["msg"] == "startups full" {
			n++
		}
	}
	if n == 0 || n > eventBurst {
		t.Errorf("%d records 'startups full' for %d refusals, want 1 to %d", n, flood, eventBurst)
	}
}
