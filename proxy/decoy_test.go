package proxy

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
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
