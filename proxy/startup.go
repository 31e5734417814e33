package proxy

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// clientParams are the startup parameters a client may choose; they are
// applied on every backend lent to it. Everything else is dropped with a
// notice (options, search_path, role, ...) or refused (replication).
var clientParams = map[string]string{
	"application_name":   "application_name",
	"client_encoding":    "client_encoding",
	"datestyle":          "DateStyle",
	"timezone":           "TimeZone",
	"intervalstyle":      "IntervalStyle",
	"extra_float_digits": "extra_float_digits",
}

// maxAuthMessage bounds what a client that has not logged in may send in
// one message (a password or a SASL exchange). Without it a stranger
// could make pgmoat hold MaxMessageSize per connection until the startup
// timeout. It is the size of the buffer pgproto3 reads through anyway:
// SCRAM and md5 answers are a few hundred bytes at most, and a longer
// limit (PostgreSQL's 65535, meant for GSSAPI tokens) let a 5-byte header
// make pgmoat hold a 64 KiB buffer per connection until the timeout,
// some 0.8 GB for a flood of 10,000 half-open logins.
const maxAuthMessage = 8192

// startup negotiates TLS, reads the startup packet, authenticates the
// client and sends the session's opening messages. It returns a session,
// or an admin-console session, or neither for a cancel request. free
// gives the login's startup place back (takeStartup); a login that
// succeeds calls it before sending its opening messages.
func (s *Server) startup(conn net.Conn, free func()) (*session, *adminSession, error) {
	_ = conn.SetDeadline(time.Now().Add(s.cfg.StartupTimeout))
	sr := &startupReader{r: conn}
	fe := pgproto3.NewBackend(sr, conn)
	fe.SetMaxBodyLen(maxAuthMessage)
	tlsDone, gssDone := false, false
	for {
		p, err := readStartupPacket(sr)
		if err != nil {
			var up *unsupportedProtocol
			switch {
			case err == io.EOF:
				// Gone before sending a byte (a TCP health check): no
				// one to tell, and nothing to count as a client's error.
			case errors.As(err, &up):
				s.refuseRaw(conn, codeFeatureNotSupp, up.refusal())
			case errors.As(err, new(*wireError)):
				s.refuse(conn, err.(*wireError))
			default:
				s.refuse(conn, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid startup packet: "+err.Error()))
			}
			return nil, nil, err
		}
		switch m := p.msg.(type) {
		case *pgproto3.SSLRequest:
			if tlsDone {
				return nil, nil, s.repeatedRequest(conn, sslRequestCode)
			}
			tlsDone = true
			if s.cfg.TLS == nil {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return nil, nil, err
				}
				continue
			}
			// Inside TLS, GSS encryption cannot be asked for any more.
			gssDone = true
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return nil, nil, err
			}
			tc := tls.Server(conn, s.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				return nil, nil, err
			}
			conn = tc
			sr = &startupReader{r: conn}
			fe = pgproto3.NewBackend(sr, conn)
			fe.SetMaxBodyLen(maxAuthMessage)
		case *pgproto3.GSSEncRequest:
			if gssDone {
				return nil, nil, s.repeatedRequest(conn, gssEncCode)
			}
			gssDone = true
			// Refused, so TLS may still be asked for, as PostgreSQL allows.
			tlsDone = false
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return nil, nil, err
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			_ = conn.Close()
			return nil, nil, nil
		case *pgproto3.StartupMessage:
			sr.typed = true
			if npv := p.negotiation(); npv != nil {
				if err := sender(conn)(npv); err != nil {
					return nil, nil, err
				}
			}
			if e := s.needsTLS(conn, m); e != nil {
				s.refuse(conn, e)
				return nil, nil, e
			}
			if m.Parameters["database"] == AdminDatabase {
				a, err := s.openAdmin(conn, fe, m, free)
				return nil, a, err
			}
			sess, err := s.open(conn, fe, m, free)
			return sess, nil, err
		}
	}
}

// needsTLS is the refusal of a startup packet that came in the clear
// when Config.RequireTLS asks for TLS, worded after PostgreSQL's
// "no pg_hba.conf entry for host ..., no encryption"; nil when the
// client may go on.
func (s *Server) needsTLS(conn net.Conn, m *pgproto3.StartupMessage) *wireError {
	if !s.cfg.RequireTLS {
		return nil
	}
	if _, encrypted := conn.(*tls.Conn); encrypted {
		return nil
	}
	if _, local := conn.LocalAddr().(*net.UnixAddr); local {
		return nil
	}
	host := conn.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return fatalf(codeInvalidAuth, fmt.Sprintf("pgmoat: proxy.tls.require: TLS required for host %q, user %q, database %q, no encryption; connect with sslmode=require or stronger",
		host, m.Parameters["user"], m.Parameters["database"]))
}

// open authenticates the client described by the startup message. Its
// login is over once the session is made: free gives the startup place
// back before the opening messages tell the client so.
func (s *Server) open(conn net.Conn, fe *pgproto3.Backend, m *pgproto3.StartupMessage, free func()) (*session, error) {
	send := sender(conn)
	fail := func(e *wireError) (*session, error) {
		s.refuse(conn, e)
		return nil, e
	}
	user := m.Parameters["user"]
	if user == "" {
		return fail(fatalf(codeInvalidAuth, "no user name given in the startup packet"))
	}
	if v := m.Parameters["replication"]; v != "" && !strings.EqualFold(v, "false") && v != "0" && !strings.EqualFold(v, "off") {
		return fail(fatalf(codeDenied, "pgmoat: startup.replication: replication connections are not allowed"))
	}
	db := m.Parameters["database"]
	if db == "" {
		db = user
	}
	if db != s.cfg.Database {
		return fail(fatalf(codeNoDatabase, fmt.Sprintf("database %q does not exist; pgmoat serves database %q", db, s.cfg.Database)))
	}
	client, dropped := splitStartupParams(m.Parameters)
	who, err := s.login(conn, fe, send, user, false)
	if err != nil {
		return nil, err
	}
	params, err := s.pool.ServerParams(context.Background())
	if err != nil {
		return fail(toWire(err).asFatal())
	}
	if enc, asked := client["client_encoding"]; asked {
		canonical, ok := canonicalEncoding(enc, params["server_encoding"])
		if !ok {
			return fail(errClientEncoding(enc, params["server_encoding"]))
		}
		client["client_encoding"] = canonical
	}
	canonicalStartups(client, params)
	if e := s.checkStartups(who.id, client, startupNames(m.Parameters), params); e != nil {
		return fail(e)
	}
	sess := s.newSession(conn, user, who.id, client, 4) // protocol 3.0's key
	msgs := []pgproto3.BackendMessage{&pgproto3.AuthenticationOk{}}
	msgs = append(msgs, parameterStatuses(params, client, user)...)
	msgs = append(msgs, &pgproto3.BackendKeyData{ProcessID: sess.key.pid, SecretKey: sess.key.secret})
	for _, name := range dropped {
		msgs = append(msgs, &pgproto3.NoticeResponse{
			Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
			Message: fmt.Sprintf("pgmoat: startup.parameter: ignored startup parameter %q; pgmoat sets session settings itself", name),
		})
	}
	msgs = append(msgs, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	free()
	for _, msg := range msgs {
		if err := send(msg); err != nil {
			s.forget(sess)
			return nil, err
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return sess, nil
}

// login authenticates user at the proxy's door or the admin console's
// (console) against that door's logins, and refuses the client itself
// when the answer is an error the client is told. A name the door does
// not know is checked against the decoy like a known one and refused only
// after, so that neither the exchange nor its timing tells the two apart.
func (s *Server) login(conn net.Conn, fe *pgproto3.Backend, send func(pgproto3.BackendMessage) error, user string, console bool) (credentialsFor, error) {
	lookup := s.user
	if console {
		lookup = s.adminUser
	}
	who, known := lookup(user)
	var creds *credentials
	if known {
		creds = &who.creds
	}
	err := s.authenticate(conn, fe, send, user, creds, console)
	if err == nil && !known {
		err = errAuthFailed(user)
	}
	if we, ok := err.(*wireError); ok {
		s.refuse(conn, we)
	}
	return who, err
}

// authenticate checks user's password against creds (nil: not a user of
// this door), at the admin console's door or the proxy's.
func (s *Server) authenticate(conn net.Conn, fe *pgproto3.Backend, send func(pgproto3.BackendMessage) error, user string, creds *credentials, console bool) error {
	switch s.cfg.Auth {
	case AuthTrust:
		if !isLoopback(conn.RemoteAddr()) {
			return fatalf(codeInvalidAuth, "pgmoat: auth.trust: trust authentication is only for loopback clients")
		}
		if creds == nil {
			return errAuthFailed(user)
		}
		return nil
	case AuthMD5:
		return authMD5(fe, send, user, creds)
	default:
		l := s.logins.Load()
		door, iters := doorProxy, l.decoyIters
		if console {
			door, iters = doorAdmin, l.adminDecoyIters
		}
		return authSCRAM(fe, send, user, creds, s.decoy.credentials(door, user, iters))
	}
}

func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// splitStartupParams keeps the allow-listed parameters (with PostgreSQL's
// spelling) and lists what was dropped; _pq_. options were answered
// with the startup packet (startupPacket.negotiation).
func splitStartupParams(in map[string]string) (client map[string]string, dropped []string) {
	client = map[string]string{}
	for k, v := range in {
		switch lk := strings.ToLower(k); {
		case lk == "user" || lk == "database" || lk == "replication":
		case strings.HasPrefix(lk, "_pq_."):
		case clientParams[lk] != "":
			client[clientParams[lk]] = v
		default:
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	return client, dropped
}

// reportedParams are the settings PostgreSQL reports at startup.
var reportedParams = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
	"server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
}

func parameterStatuses(server, client map[string]string, user string) []pgproto3.BackendMessage {
	var out []pgproto3.BackendMessage
	for _, name := range reportedParams {
		v, ok := server[name]
		if cv, set := client[name]; set {
			v, ok = cv, true
		}
		switch name {
		case "session_authorization":
			v, ok = user, true
		case "is_superuser":
			v, ok = "off", true
		case "application_name":
			ok = true
		}
		if ok {
			out = append(out, &pgproto3.ParameterStatus{Name: name, Value: v})
		}
	}
	return out
}

// cancelKey is the BackendKeyData pgmoat gives a client. It is random and
// has nothing to do with any backend's real key.
type cancelKey struct {
	pid    uint32
	secret []byte
}

func newCancelKey(secretLen int) cancelKey {
	var b [4]byte
	_, _ = rand.Read(b[:])
	secret := make([]byte, secretLen)
	_, _ = rand.Read(secret)
	return cancelKey{pid: binary.BigEndian.Uint32(b[:]) & 0x7fffffff, secret: secret}
}

// cancel forwards a cancel request to the backend the key's owner holds
// right now, if any. Anything else is dropped silently, as PostgreSQL does.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	sess := s.sessions[pid]
	s.mu.Unlock()
	if sess == nil || len(secret) != len(sess.key.secret) || subtle.ConstantTimeCompare(secret, sess.key.secret) != 1 {
		return
	}
	sess.cancelBackend()
}

// refuseRaw is refuse for an answer already encoded (one in protocol
// 2's error format), counted under code.
func (s *Server) refuseRaw(conn net.Conn, code string, answer []byte) {
	s.metrics.clientError(code)
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(answer)
	_ = conn.Close()
}

func (e *wireError) asFatal() *wireError {
	c := *e
	c.severity = "FATAL"
	return &c
}

// openAdmin authenticates an admin-console user; free gives the startup
// place back before the opening messages, as in open.
func (s *Server) openAdmin(conn net.Conn, fe *pgproto3.Backend, m *pgproto3.StartupMessage, free func()) (*adminSession, error) {
	send := sender(conn)
	user := m.Parameters["user"]
	// Only admin-console users are known here: a proxy user is checked
	// against the console's decoy like a made-up name, so that neither
	// the salt nor the answer tells one from the other.
	who, err := s.login(conn, fe, send, user, true)
	if err != nil {
		return nil, err
	}
	fe.SetMaxBodyLen(s.cfg.MaxMessageSize)
	// psql reads server_version to pick its catalog queries; report the
	// backend's so it does not warn about a version mismatch.
	version := "15.0"
	if params, err := s.pool.ServerParams(context.Background()); err == nil && params["server_version"] != "" {
		version = params["server_version"]
	}
	free()
	for _, msg := range []pgproto3.BackendMessage{
		&pgproto3.AuthenticationOk{},
		&pgproto3.ParameterStatus{Name: "server_version", Value: version},
		&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"},
		&pgproto3.ParameterStatus{Name: "server_encoding", Value: "UTF8"},
		&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"},
		&pgproto3.ParameterStatus{Name: "session_authorization", Value: user},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	} {
		if err := send(msg); err != nil {
			return nil, err
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return &adminSession{srv: s, conn: conn, fe: fe, user: user, role: who.role, started: time.Now()}, nil
}

// sender writes one message at a time, unbuffered, as startup does.
func sender(conn net.Conn) func(pgproto3.BackendMessage) error {
	return func(msg pgproto3.BackendMessage) error {
		buf, err := msg.Encode(nil)
		if err != nil {
			return err
		}
		_, err = conn.Write(buf)
		return err
	}
}

// repeatedRequest refuses an SSLRequest or GSSEncRequest that comes when
// that negotiation is over, as PostgreSQL does: it no longer takes the
// code for a request, so it reads it as a protocol version (1234.5679 or
// 1234.5680) and refuses that.
func (s *Server) repeatedRequest(conn net.Conn, code uint32) error {
	up := &unsupportedProtocol{major: uint16(code >> 16), minor: uint16(code)}
	s.refuseRaw(conn, codeFeatureNotSupp, up.refusal())
	return up
}
