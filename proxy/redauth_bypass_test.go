package proxy

import (
	"encoding/binary"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// No bending of the SCRAM exchange logs a client in without proving the
// password over this very exchange: channel-binding flags the server did
// not offer, a final message replayed from another login, a nonce not
// the server's, other mechanisms, a proof-less message.
func TestRedAuthSCRAMCannotBeBent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	good := scramLogin(t, f.addr, f.db, "alice", scramAttempt{password: "alice"})
	if !good.loggedIn || good.sessionUser != "alice" {
		t.Fatalf("a proper login failed: %s", good.shape("alice"))
	}
	for _, tc := range []struct {
		name string
		a    scramAttempt
		ok   bool // a proper login that must still succeed
	}{
		// 'y': the client could bind but thinks the server cannot; it did
		// not offer SCRAM-SHA-256-PLUS, so that is true and allowed.
		{"flag y", scramAttempt{password: "alice", gs2: "y,,"}, true},
		{"flag p without PLUS", scramAttempt{password: "alice", gs2: "p=tls-server-end-point,,"}, false},
		{"flag p unique", scramAttempt{password: "alice", gs2: "p=tls-unique,,"}, false},
		{"mechanism PLUS", scramAttempt{password: "alice", mechanism: "SCRAM-SHA-256-PLUS"}, false},
		{"mechanism SHA-1", scramAttempt{password: "alice", mechanism: "SCRAM-SHA-1"}, false},
		{"mechanism empty", scramAttempt{password: "alice", mechanism: "x"}, false},
		{"replayed final", scramAttempt{password: "alice", final: good.final}, false},
		{"client nonce only", scramAttempt{password: "alice", finalNonce: "fixedclientnonce0123456789"}, false},
		{"nonce of another login", scramAttempt{password: "alice", finalNonce: scramAttrs(good.serverFirst)["r"]}, false},
		{"no proof", scramAttempt{password: "alice", final: "c=biws,r=x"}, false},
		{"empty final", scramAttempt{password: "alice", final: "="}, false},
		{"wrong password", scramAttempt{password: "alicf"}, false},
		// An authorization identity is ignored: the login is alice's.
		{"authzid of another user", scramAttempt{password: "alice", gs2: "n,a=bob,"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := scramLogin(t, f.addr, f.db, "alice", tc.a)
			if o.loggedIn != tc.ok {
				t.Fatalf("logged in %v, want %v: %s", o.loggedIn, tc.ok, o.shape("alice"))
			}
			if o.loggedIn && o.sessionUser != "alice" {
				t.Fatalf("logged in as %q", o.sessionUser)
			}
			if !o.loggedIn && o.err == nil {
				t.Fatalf("refused without an error: %v", o.kinds)
			}
		})
	}
}

// Malformed answers to the SASL request: a -1 or oversized data length,
// a password message, a second initial response. None logs in, each is
// refused with an error, and the proxy serves the next client.
func TestRedAuthMalformedSASLMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	initial := func(mech string, dataLen int32, data string) []byte {
		body := append([]byte(mech), 0)
		body = binary.BigEndian.AppendUint32(body, uint32(dataLen))
		body = append(body, data...)
		msg := []byte{'p'}
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(body)+4))
		return append(msg, body...)
	}
	for name, raw := range map[string][]byte{
		"length -1":        initial("SCRAM-SHA-256", -1, ""),
		"length huge":      initial("SCRAM-SHA-256", 0x7fffffff, "n,,n=,r=abc"),
		"length past body": initial("SCRAM-SHA-256", 100, "n,,n=,r=abc"),
		"negative length":  initial("SCRAM-SHA-256", -5, "n,,n=,r=abc"),
		"password message": append([]byte{'p', 0, 0, 0, 10}, "alice\x00"...),
		"no mechanism nul": append([]byte{'p', 0, 0, 0, 9}, "SCRAM"...),
	} {
		t.Run(name, func(t *testing.T) {
			r := redDial(t, f.addr)
			if _, ok := r.startup(t, 0, map[string]string{"user": "alice", "database": f.db}).(*pgproto3.AuthenticationSASL); !ok {
				t.Fatal("no SASL request")
			}
			if _, err := r.c.Write(raw); err != nil {
				t.Fatal(err)
			}
			// pgproto3 takes the data as the rest of the message whatever
			// length it declares; the exchange then goes on, to a failure.
			var o scramOutcome
			for msg := r.recv(); o.note(msg); msg = r.recv() {
				if _, ok := msg.(*pgproto3.AuthenticationSASLContinue); ok {
					r.send(t, &pgproto3.SASLResponse{Data: []byte("c=biws,r=abc,p=AAAA")})
				}
			}
			if o.loggedIn || o.err == nil {
				t.Fatalf("logged in or no error: %v", o.kinds)
			}
		})
	}
	// A second SASLInitialResponse where the final message belongs.
	r := redDial(t, f.addr)
	r.startup(t, 0, map[string]string{"user": "alice", "database": f.db})
	r.send(t, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abc")})
	if _, ok := r.recv().(*pgproto3.AuthenticationSASLContinue); !ok {
		t.Fatal("no server-first message")
	}
	r.send(t, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abc")})
	var o scramOutcome
	for msg := r.recv(); o.note(msg); msg = r.recv() {
	}
	if o.loggedIn || o.err == nil {
		t.Fatalf("second initial response: %v", o.kinds)
	}
	if o := scramLogin(t, f.addr, f.db, "bob", scramAttempt{password: "bob"}); !o.loggedIn {
		t.Fatalf("bob after the malformed logins: %s", o.shape("bob"))
	}
}

// An md5 answer captured from one login does not work for another (each
// has its own salt), nor does the plain password or an empty answer.
func TestRedAuthMD5CannotBeReplayed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{auth: AuthMD5})
	try := func(answer func(salt [4]byte) string) scramOutcome {
		r := redDial(t, f.addr)
		msg := r.startup(t, 0, map[string]string{"user": "alice", "database": f.db})
		req, ok := msg.(*pgproto3.AuthenticationMD5Password)
		if !ok {
			t.Fatalf("want an md5 request, got %T", msg)
		}
		r.send(t, &pgproto3.PasswordMessage{Password: answer(req.Salt)})
		var o scramOutcome
		for msg := r.recv(); o.note(msg); msg = r.recv() {
		}
		return o
	}
	var captured string
	if o := try(func(salt [4]byte) string { captured = md5Response("alice", "alice", salt); return captured }); !o.loggedIn {
		t.Fatalf("a proper md5 login failed: %s", o.shape("alice"))
	}
	for name, answer := range map[string]func([4]byte) string{
		"replayed": func([4]byte) string { return captured },
		"plain":    func([4]byte) string { return "alice" },
		"empty":    func([4]byte) string { return "" },
		"md5 only": func([4]byte) string { return "md5" },
	} {
		if o := try(answer); o.loggedIn || o.err == nil || o.err.Code != "28P01" {
			t.Errorf("%s: %s", name, o.shape("alice"))
		}
	}
}
