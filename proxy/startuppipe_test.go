package proxy

import (
	"crypto/md5"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// A client may send its first query right behind its password, in the
// same write: the startup exchange must not read past the password, or
// the query would be lost when the session takes over the connection.
func TestQueryPipelinedBehindThePassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, Auth: AuthMD5, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", serveOn(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fe := pgproto3.NewFrontend(conn, conn)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "alice", "database": f.db}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	challenge, ok := msg.(*pgproto3.AuthenticationMD5Password)
	if !ok {
		t.Fatalf("got %T, want an md5 challenge", msg)
	}
	fe.Send(&pgproto3.PasswordMessage{Password: md5Answer("alice", "alice", challenge.Salt)})
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got string
	ready := 0
	for ready < 2 { // one after the login, one after the query
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %d ReadyForQuery: %v", ready, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			ready++
		case *pgproto3.DataRow:
			got = string(m.Values[0])
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s %s", m.Code, m.Message)
		}
	}
	if got != "50" {
		t.Fatalf("the pipelined query returned %q, want 50", got)
	}
}

func md5Answer(user, password string, salt [4]byte) string {
	inner := md5.Sum([]byte(password + user))
	h := hex.EncodeToString(inner[:])
	outer := md5.Sum(append([]byte(h), salt[:]...))
	return "md5" + hex.EncodeToString(outer[:])
}
