package proxy

import (
	"bytes"
	"log/slog"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// serverFirst starts a SCRAM login as user and returns the salt and
// iteration count of the server's first message.
func serverFirst(t *testing.T, addr, db, user string) (salt, iters string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": user, "database": db}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if msg, err := fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("%s: want SASL, got %T", user, msg)
	}
	fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce0123456789")})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	cont, ok := msg.(*pgproto3.AuthenticationSASLContinue)
	if !ok {
		t.Fatalf("%s: want SASLContinue, got %T", user, msg)
	}
	for _, attr := range strings.Split(string(cont.Data), ",") {
		switch {
		case strings.HasPrefix(attr, "s="):
			salt = attr[2:]
		case strings.HasPrefix(attr, "i="):
			iters = attr[2:]
		}
	}
	return salt, iters
}

// The server's first SCRAM message must not tell a made-up user name
// from a real one, as PostgreSQL's mock authentication does not: a real
// user's salt has 16 bytes, is the same at every attempt and announces
// the users' iteration count, and so is a made-up user's; two made-up
// names get different salts, as two real users do.
func TestUnknownUsersLookLikeRealOnesBeforeTheProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	realSalt, realIters := serverFirst(t, f.addr, f.db, "alice")
	if again, _ := serverFirst(t, f.addr, f.db, "alice"); again != realSalt {
		t.Fatalf("a real user's salt changed between logins: %q then %q", realSalt, again)
	}
	salt, iters := serverFirst(t, f.addr, f.db, "mallory")
	if len(salt) != len(realSalt) || iters != realIters {
		t.Errorf("unknown user: salt %q, %s rounds; real user: salt %q, %s rounds", salt, iters, realSalt, realIters)
	}
	if again, _ := serverFirst(t, f.addr, f.db, "mallory"); again != salt {
		t.Errorf("an unknown user's salt changed between logins: %q then %q", salt, again)
	}
	if other, _ := serverFirst(t, f.addr, f.db, "trudy"); other == salt || other == realSalt {
		t.Errorf("two user names share the salt %q", other)
	}
}

func TestCommonIters(t *testing.T) {
	with := func(iters ...int) map[string]credentialsFor {
		m := map[string]credentialsFor{}
		for i, n := range iters {
			var c credentialsFor
			c.creds.scram.Iters = n
			m[string(rune('a'+i))] = c
		}
		return m
	}
	for _, tc := range []struct {
		users, admins []int
		want          int
	}{
		{nil, nil, decoyIters},
		{[]int{16}, nil, 16},
		{[]int{4096, 10000, 10000}, []int{4096}, 4096},
		{[]int{10000, 10000}, []int{4096}, 10000},
	} {
		if got := commonIters(with(tc.users...), with(tc.admins...)); got != tc.want {
			t.Errorf("commonIters(%v, %v) = %d, want %d", tc.users, tc.admins, got, tc.want)
		}
	}
}

// restarted is a Server built from f's configuration with secret as its
// AuthSecret and users added, as pgmoat builds one again after a
// restart, serving on a port of its own.
func restarted(t *testing.T, f *proxyFixture, secret string, users map[string]User) string {
	t.Helper()
	cfg := f.server.cfg
	cfg.AuthSecret, cfg.Metrics = secret, nil
	cfg.Users = maps.Clone(cfg.Users)
	maps.Copy(cfg.Users, users)
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, srv)
}

// A configured verifier's salt is the same after a restart, so a made-up
// name's must be too, and a plain-text password's, at either door:
// otherwise comparing a name's salt before and after a restart tells
// real users from made-up names. A different secret gives other salts.
func TestDecoysSurviveARestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	plain := map[string]User{"pat": {Password: "pat-password", Identity: policy.Identity{UserID: "9", Profile: "readonly"}}}
	const secret = "0123456789abcdef0123456789abcdef"
	before := restarted(t, f, secret, plain)
	after := restarted(t, f, secret, plain)
	other := restarted(t, f, "fedcba9876543210fedcba9876543210", plain)
	for _, c := range []struct{ db, user string }{
		{f.db, "mallory"}, {f.db, "pat"}, {f.db, "alice"}, {AdminDatabase, "mallory"}, {AdminDatabase, "alice"},
	} {
		was, _ := serverFirst(t, before, c.db, c.user)
		is, _ := serverFirst(t, after, c.db, c.user)
		if was != is {
			t.Errorf("%s at %s: salt %q before the restart, %q after", c.user, c.db, was, is)
		}
		if c.user == "alice" {
			continue // a configured verifier's salt is its own
		}
		if o, _ := serverFirst(t, other, c.db, c.user); o == was {
			t.Errorf("%s at %s: the same salt %q under two secrets", c.user, c.db, o)
		}
	}
}

// Without a secret the decoys change at every restart while verifiers
// keep their salts; the server says so once, naming the key to set.
func TestRandomDecoysWarnOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, c := range []struct {
		secret string
		users  map[string]User
		admins map[string]AdminUser
		want   int
	}{
		{"", nil, nil, 1}, // the fixture's logins are verifiers
		{"0123456789abcdef0123456789abcdef", nil, nil, 0},
		{"", map[string]User{"pat": {Password: "pat-password"}}, map[string]AdminUser{"dba": {Password: "dba-password"}}, 0},
	} {
		var buf bytes.Buffer
		cfg := f.server.cfg
		cfg.AuthSecret, cfg.Metrics, cfg.Logger = c.secret, nil, slog.New(slog.NewTextHandler(&buf, nil))
		if c.users != nil {
			cfg.Users, cfg.Admin.Users = c.users, c.admins
		}
		if _, err := NewServer(cfg); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "proxy.auth_secret"); n != c.want {
			t.Errorf("secret %q, users %v: %d warnings naming proxy.auth_secret, want %d:\n%s", c.secret, c.users, n, c.want, buf.String())
		}
	}
}
