package proxy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// The proxy's database and the admin console share a port, so a stranger
// can ask for the same name's salt at both doors. Whether the two salts
// are the same must not depend on whether the name is a proxy user, an
// admin-console user or made up; nor may the iteration count at either
// door.
func TestRedAuthTwoDoorsDoNotTellWhoExists(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	same := map[string]bool{}
	iters := map[string]map[string]bool{f.db: {}, AdminDatabase: {}}
	for _, name := range []string{"alice", "dba", "mallory"} {
		proxySalt, proxyIters := serverFirst(t, f.addr, f.db, name)
		adminSalt, adminIters := serverFirst(t, f.addr, AdminDatabase, name)
		same[name] = proxySalt == adminSalt
		iters[f.db][proxyIters] = true
		iters[AdminDatabase][adminIters] = true
	}
	if same["alice"] != same["mallory"] || same["dba"] != same["mallory"] {
		t.Errorf("the salts at the two doors are the same for: proxy user %v, admin user %v, made-up name %v",
			same["alice"], same["dba"], same["mallory"])
	}
	for door, seen := range iters {
		if len(seen) != 1 {
			t.Errorf("door %s shows several iteration counts: %v", door, seen)
		}
	}
}

// Each door's made-up names announce the iteration count most of that
// door's own logins carry: admins with plain-text passwords (4096
// rounds) beside proxy users with cheap verifiers must not stand out at
// the console.
func TestRedAuthDecoyIterationsPerDoor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	if err := f.server.Reconfigure(Reconfig{
		Users: map[string]User{
			"alice": {Password: testVerifier("alice"), Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
			"bob":   {Password: testVerifier("bob"), Identity: policy.Identity{UserID: "2", Profile: "readonly"}},
			"carol": {Password: testVerifier("carol"), Identity: policy.Identity{UserID: "3", Profile: "readonly"}},
		},
		Admins: map[string]AdminUser{"dba": {Password: "dba"}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, door := range []string{f.db, AdminDatabase} {
		real := "alice"
		if door == AdminDatabase {
			real = "dba"
		}
		_, want := serverFirst(t, f.addr, door, real)
		if _, got := serverFirst(t, f.addr, door, "mallory"); got != want {
			t.Errorf("door %s: %s announces %s rounds, a made-up name %s", door, real, want, got)
		}
	}
}

// A failed login under a real name and under a made-up one look the
// same to the client, message for message, at both doors: the salt and
// nonce sizes, the iteration count, the error's severity, code and text.
func TestRedAuthWrongPasswordLooksLikeMadeUpName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, door := range []string{f.db, AdminDatabase} {
		for _, real := range []string{"alice", "dba"} {
			got := scramLogin(t, f.addr, door, real, scramAttempt{password: "wrong"}).shape(real)
			want := scramLogin(t, f.addr, door, "mallory", scramAttempt{password: "wrong"}).shape("mallory")
			if got != want {
				t.Errorf("door %s: %s with a wrong password: %s; a made-up name: %s", door, real, got, want)
			}
			if !strings.Contains(got, "28P01") {
				t.Errorf("door %s: %s with a wrong password: %s", door, real, got)
			}
		}
	}
}

// The md5 exchange gives an unknown user a fresh 4-byte salt as it does a
// real one, and the same failure.
func TestRedAuthMD5UnknownUserLooksReal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{auth: AuthMD5})
	answer := func(user string) (salts [2][4]byte, shape string) {
		for i := range salts {
			r := redDial(t, f.addr)
			msg := r.startup(t, 0, map[string]string{"user": user, "database": f.db})
			req, ok := msg.(*pgproto3.AuthenticationMD5Password)
			if !ok {
				t.Fatalf("%s: want an md5 request, got %T", user, msg)
			}
			salts[i] = req.Salt
			r.send(t, &pgproto3.PasswordMessage{Password: md5Response(user, "wrong", req.Salt)})
			var o scramOutcome
			for msg := r.recv(); o.note(msg); msg = r.recv() {
			}
			shape = o.shape(user)
		}
		return salts, shape
	}
	realSalts, realShape := answer("alice")
	fakeSalts, fakeShape := answer("mallory")
	if realShape != fakeShape || !strings.Contains(realShape, "28P01") {
		t.Errorf("alice: %s; made-up name: %s", realShape, fakeShape)
	}
	if realSalts[0] == realSalts[1] || fakeSalts[0] == fakeSalts[1] {
		t.Errorf("md5 salts repeat: real %x, made-up %x", realSalts, fakeSalts)
	}
}

// Startup packets with something odd about them are answered the same
// for a real user as for a made-up one (refused before any user lookup,
// or given the same exchange), and never let anyone in.
func TestRedAuthOddStartupsDoNotTellUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		name  string
		proto uint32
		extra map[string]string
	}{
		{"protocol 3.2", pgproto3.ProtocolVersion32, nil},
		{"replication database", 0, map[string]string{"database": "replication"}},
		{"replication=database", 0, map[string]string{"replication": "database"}},
		{"replication=true", 0, map[string]string{"replication": "true"}},
		{"no database", 0, map[string]string{"database": ""}},
		{"other database", 0, map[string]string{"database": "postgres"}},
		{"admin database, replication", 0, map[string]string{"database": AdminDatabase, "replication": "true"}},
		{"options", 0, map[string]string{"options": "-c role=postgres", "_pq_.x": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape := func(user string) string {
				params := map[string]string{"user": user, "database": f.db}
				for k, v := range tc.extra {
					params[k] = v
				}
				r := redDial(t, f.addr)
				var o scramOutcome
				o.note(r.startup(t, tc.proto, params))
				return o.shape(user)
			}
			if real, fake := shape("alice"), shape("mallory"); real != fake {
				t.Errorf("alice: %s; made-up name: %s", real, fake)
			}
		})
	}
	// Odd names: each gets a refusal or the decoy exchange, never a way in.
	for _, user := range []string{"", strings.Repeat("a", 9000), "\xff\xfe", "alice\u00a0", "ALICE", "alice "} {
		o := scramLogin(t, f.addr, f.db, user, scramAttempt{password: "alice"})
		if o.loggedIn {
			t.Errorf("user %.20q logged in", user)
		}
		if o.err == nil {
			t.Errorf("user %.20q: no error: %v", user, o.kinds)
		}
	}
	if o := scramLogin(t, f.addr, f.db, "alice", scramAttempt{password: "alice"}); !o.loggedIn {
		t.Fatalf("alice cannot log in after the odd startups: %s", o.shape("alice"))
	}
}

// A failed login under a real name takes as long as one under a made-up
// name. Attempts alternate, and each real attempt is compared with the
// made-up one next to it, so load on the machine falls on both alike;
// the median of those ratios must stay within a margin far below what a
// key derivation on one side only would leave (at this fixture's 16
// rounds about 1.3x, at 4096 many times that). A busy machine can still
// skew one round, so a round outside the margin is run again: a real
// difference shows in every round, noise does not.
func TestRedAuthTimingDoesNotTellUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	login := func(user string) time.Duration {
		start := time.Now()
		o := scramLogin(t, f.addr, f.db, user, scramAttempt{password: "wrong"})
		d := time.Since(start)
		if o.err == nil || o.err.Code != "28P01" {
			t.Fatalf("%s: %s", user, o.shape(user))
		}
		return d
	}
	round := func() float64 {
		const pairs = 200
		ratios := make([]float64, 0, pairs)
		for i := range pairs {
			// Which name goes first alternates too, so that neither
			// side always meets a warm cache or a fresh time slice.
			var real, fake time.Duration
			if i%2 == 0 {
				real, fake = login("alice"), login("mallory")
			} else {
				fake, real = login("mallory"), login("alice")
			}
			ratios = append(ratios, float64(real)/float64(fake))
		}
		slices.Sort(ratios)
		return ratios[len(ratios)/2]
	}
	var seen []float64
	for range 3 {
		ratio := round()
		seen = append(seen, ratio)
		if ratio >= 0.8 && ratio <= 1.25 {
			t.Logf("median ratio of a real user's failed login to a made-up name's: %.3f (rounds %.3f)", ratio, seen)
			return
		}
	}
	t.Errorf("a real user's failed login takes %.3f times a made-up name's, in every round", seen)
}

// Reconfigure changing a password: the old one stops working at once,
// the new one works, and a removed user fails exactly as a made-up name
// does; made-up names keep their salts.
func TestRedAuthReconfigurePasswordChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	fakeSalt, _ := serverFirst(t, f.addr, f.db, "mallory")
	if err := f.server.Reconfigure(Reconfig{
		Users: map[string]User{
			"alice": {Password: testVerifier("alice2"), Identity: policy.Identity{UserID: "1", Profile: "readonly"}},
			"carol": {Password: testVerifier("carol"), Identity: policy.Identity{UserID: "3", Profile: "patient"}},
		},
		Admins: map[string]AdminUser{"dba": {Password: testVerifier("dba")}},
	}); err != nil {
		t.Fatal(err)
	}
	if o := scramLogin(t, f.addr, f.db, "alice", scramAttempt{password: "alice"}); o.loggedIn || o.err == nil || o.err.Code != "28P01" {
		t.Errorf("old password after the change: %s", o.shape("alice"))
	}
	if o := scramLogin(t, f.addr, f.db, "alice", scramAttempt{password: "alice2"}); !o.loggedIn {
		t.Errorf("new password after the change: %s", o.shape("alice"))
	}
	removed := scramLogin(t, f.addr, f.db, "bob", scramAttempt{password: "bob"})
	fake := scramLogin(t, f.addr, f.db, "mallory", scramAttempt{password: "bob"})
	if removed.loggedIn || removed.shape("bob") != fake.shape("mallory") {
		t.Errorf("removed user: %s; made-up name: %s", removed.shape("bob"), fake.shape("mallory"))
	}
	if again, _ := serverFirst(t, f.addr, f.db, "mallory"); again != fakeSalt {
		t.Errorf("a made-up name's salt changed with Reconfigure: %q then %q", fakeSalt, again)
	}
}
