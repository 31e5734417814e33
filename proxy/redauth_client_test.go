package proxy

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// redConn is a client connection driven message by message, to send what
// no well-behaved client would.
type redConn struct {
	c  net.Conn
	fe *pgproto3.Frontend
}

func redDial(t testing.TB, addr string) *redConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &redConn{c: c, fe: pgproto3.NewFrontend(c, c)}
}

func (r *redConn) send(t testing.TB, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	if err := r.fe.Flush(); err != nil {
		t.Fatal(err)
	}
}

// startup sends a startup packet for user and db (3.0 unless proto says
// otherwise) and returns the proxy's first answer.
func (r *redConn) startup(t testing.TB, proto uint32, params map[string]string) pgproto3.BackendMessage {
	t.Helper()
	if proto == 0 {
		proto = pgproto3.ProtocolVersionNumber
	}
	r.send(t, &pgproto3.StartupMessage{ProtocolVersion: proto, Parameters: params})
	return r.recv()
}

// recv is the next message, or nil once the proxy closed the connection.
func (r *redConn) recv() pgproto3.BackendMessage {
	msg, err := r.fe.Receive()
	if err != nil {
		return nil
	}
	return msg
}

// scramAttempt is what a client chooses to send in a SCRAM exchange;
// the zero value (plus a password) is a well-formed one.
type scramAttempt struct {
	password  string
	mechanism string // default SCRAM-SHA-256
	gs2       string // GS2 header; default "n,,"
	nonce     string // client nonce; default a fixed one
	// finalNonce, when set, replaces the combined nonce in the final
	// message (the proof is computed over what is sent).
	finalNonce string
	// final, when set, is sent as the client's final message as it is.
	final string
}

// scramOutcome is what the proxy answered, in a form two attempts can be
// compared by.
type scramOutcome struct {
	serverFirst string
	final       string // the client-final message that was sent
	kinds       []string
	err         *pgproto3.ErrorResponse
	loggedIn    bool
	sessionUser string
}

// shape is the outcome without what legitimately differs between two
// user names: the nonce and salt bytes, and the name in the message.
func (o scramOutcome) shape(user string) string {
	first := o.serverFirst
	if o.serverFirst != "" {
		a := scramAttrs(o.serverFirst)
		first = fmt.Sprintf("r:%d s:%d i:%s", len(a["r"]), len(a["s"]), a["i"])
	}
	e := ""
	if o.err != nil {
		e = o.err.Severity + "|" + o.err.Code + "|" + strings.ReplaceAll(o.err.Message, user, "<user>")
	}
	return fmt.Sprintf("%s %v %s ok=%v", first, o.kinds, e, o.loggedIn)
}

func scramAttrs(msg string) map[string]string {
	out := map[string]string{}
	for _, attr := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(attr, "="); ok {
			out[k] = v
		}
	}
	return out
}

// scramLogin runs a SCRAM exchange as user on database db as a libpq
// client would (or as a says otherwise), and reads the proxy's answers
// to the end of the login.
func scramLogin(t testing.TB, addr, db, user string, a scramAttempt) scramOutcome {
	t.Helper()
	r := redDial(t, addr)
	var out scramOutcome
	first := r.startup(t, 0, map[string]string{"user": user, "database": db})
	if !out.note(first) {
		return out
	}
	if a.mechanism == "" {
		a.mechanism = "SCRAM-SHA-256"
	}
	if a.gs2 == "" {
		a.gs2 = "n,,"
	}
	if a.nonce == "" {
		a.nonce = "fixedclientnonce0123456789"
	}
	bare := "n=,r=" + a.nonce
	r.send(t, &pgproto3.SASLInitialResponse{AuthMechanism: a.mechanism, Data: []byte(a.gs2 + bare)})
	msg := r.recv()
	if !out.note(msg) {
		return out
	}
	cont, ok := msg.(*pgproto3.AuthenticationSASLContinue)
	if !ok {
		return out
	}
	out.serverFirst = string(cont.Data)
	out.final = a.final
	if out.final == "" {
		out.final = clientFinal(t, bare, out.serverFirst, a)
	}
	r.send(t, &pgproto3.SASLResponse{Data: []byte(out.final)})
	for msg := r.recv(); out.note(msg); msg = r.recv() {
	}
	return out
}

// note records msg and says whether the login is still going on.
func (o *scramOutcome) note(msg pgproto3.BackendMessage) bool {
	if msg == nil {
		o.kinds = append(o.kinds, "closed")
		return false
	}
	o.kinds = append(o.kinds, fmt.Sprintf("%T", msg)[len("*pgproto3."):])
	switch m := msg.(type) {
	case *pgproto3.ErrorResponse:
		o.err = m
		return false
	case *pgproto3.AuthenticationOk:
		o.loggedIn = true
	case *pgproto3.ParameterStatus:
		if m.Name == "session_authorization" {
			o.sessionUser = m.Value
		}
	case *pgproto3.ReadyForQuery:
		return false
	}
	return true
}

// clientFinal is the client's final message with a proof computed from
// the password, over what is sent.
func clientFinal(t testing.TB, bare, serverFirst string, a scramAttempt) string {
	t.Helper()
	attrs := scramAttrs(serverFirst)
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil {
		t.Fatalf("server-first %q: %v", serverFirst, err)
	}
	iters, err := strconv.Atoi(attrs["i"])
	if err != nil {
		t.Fatalf("server-first %q: %v", serverFirst, err)
	}
	nonce := attrs["r"]
	if a.finalNonce != "" {
		nonce = a.finalNonce
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(a.gs2)) + ",r=" + nonce
	salted, err := pbkdf2.Key(sha256.New, a.password, salt, iters, 32)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := hmacSum(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := hmacSum(stored[:], bare+","+serverFirst+","+withoutProof)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

func hmacSum(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
