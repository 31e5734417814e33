package proxy

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// Auth methods.
const (
	AuthSCRAM = "scram-sha-256"
	AuthMD5   = "md5"
	AuthTrust = "trust" // loopback clients only
)

// credentials are what pgmoat keeps of a user's password.
type credentials struct {
	scram    scram.StoredCredentials
	password string // plain text, when configured that way (needed for md5)
}

// newCredentials accepts a plain password or a SCRAM-SHA-256 verifier as
// PostgreSQL stores it: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
// A plain password's SCRAM keys are derived with salt (decoyKey.salt)
// and iters rounds (verifierIters).
func newCredentials(password string, salt []byte, iters int) (credentials, error) {
	if strings.HasPrefix(password, "SCRAM-SHA-256$") {
		sc, err := parseSCRAMVerifier(password)
		return credentials{scram: sc}, err
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return credentials{}, fmt.Errorf("password cannot be used with SCRAM: %w", err)
	}
	sc, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return credentials{}, err
	}
	return credentials{scram: sc, password: password}, nil
}

func parseSCRAMVerifier(v string) (scram.StoredCredentials, error) {
	bad := errors.New("malformed SCRAM-SHA-256 verifier; expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")
	rest := strings.TrimPrefix(v, "SCRAM-SHA-256$")
	factors, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return scram.StoredCredentials{}, bad
	}
	iterText, saltB64, ok1 := strings.Cut(factors, ":")
	storedB64, serverB64, ok2 := strings.Cut(keys, ":")
	iters, err := strconv.Atoi(iterText)
	if !ok1 || !ok2 || err != nil || iters < 1 {
		return scram.StoredCredentials{}, bad
	}
	salt, err1 := base64.StdEncoding.DecodeString(saltB64)
	stored, err2 := base64.StdEncoding.DecodeString(storedB64)
	server, err3 := base64.StdEncoding.DecodeString(serverB64)
	if err1 != nil || err2 != nil || err3 != nil {
		return scram.StoredCredentials{}, bad
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters},
		StoredKey:  stored,
		ServerKey:  server,
	}, nil
}

// errAuthFailed is what every failed login looks like to the client, so
// that user names cannot be probed.
func errAuthFailed(user string) *wireError {
	return fatalf(codeAuthFailed, "password authentication failed for user \""+user+"\"")
}

// authSCRAM runs a SCRAM-SHA-256 exchange. Unknown users get a full
// exchange against decoy credentials, and the same failure.
func authSCRAM(fe *pgproto3.Backend, send func(pgproto3.BackendMessage) error, user string, creds *credentials, decoy scram.StoredCredentials) error {
	stored := decoy
	if creds != nil {
		stored = creds.scram
	}
	server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return stored, nil })
	if err != nil {
		return err
	}
	conv := server.NewConversation()
	msg, err := ask(fe, send, &pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}}, pgproto3.AuthTypeSASL)
	if err != nil {
		return err
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || initial.AuthMechanism != "SCRAM-SHA-256" {
		return fatalf(codeProtocol, "expected a SCRAM-SHA-256 SASLInitialResponse")
	}
	serverFirst, err := conv.Step(string(initial.Data))
	if err != nil {
		return errAuthFailed(user)
	}
	msg, err = ask(fe, send, &pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}, pgproto3.AuthTypeSASLContinue)
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fatalf(codeProtocol, "expected a SASLResponse")
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() || creds == nil {
		return errAuthFailed(user)
	}
	return send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
}

// decoyKey derives the SCRAM credentials shown for a user who does not
// exist, as PostgreSQL's mock authentication does: the server's first
// message must not tell such a user from a real one. A real user's salt
// is 16 bytes and the same at every attempt, so the decoy's is too,
// derived from the name under a key of the Server's; and it costs no
// key derivation (the exchange fails whatever the client proves), so a
// login under a made-up name takes no more CPU than a real one.
//
// The proxy's database and the admin console share a port and each door
// knows only its own users, so each door has its own decoys: a name's
// salts at the two doors differ whether it is a proxy user, an admin,
// both or neither (with one decoy for both doors, an admin's salt at the
// console differed from the decoy the proxy's door showed for the same
// name, and a made-up name's did not).
//
// A configured verifier's salt is the same after a restart, so a decoy's
// must be too, or comparing a name's salt before and after a restart
// tells who exists: the key comes from Config.AuthSecret. Plain-text
// passwords get their salts from the same key (salt), so that theirs
// last as long as the decoys' do and no kind of login stands out. There
// is no fallback to derive the key from: the users' passwords or
// verifiers change whenever a user is added, and a salt anyone can ask
// for would be an offline guessing oracle for whatever secret keyed it
// (a fast HMAC per guess, against a password that is not meant to face
// one); the backend DSN's password may be missing or guessable. Without
// AuthSecret the key is random per Server, and NewServer warns when a
// verifier is configured (warnRandomDecoys).
type decoyKey [32]byte

// newDecoyKey keys the decoys with secret, or at random when it is "".
func newDecoyKey(secret string) *decoyKey {
	var k decoyKey
	if secret == "" {
		_, _ = rand.Read(k[:]) // crypto/rand.Read does not fail
		return &k
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("pgmoat proxy decoy key\x00"))
	copy(k[:], m.Sum(nil))
	return &k
}

// decoyIters is the iteration count decoy credentials announce when no
// login has SCRAM credentials: PostgreSQL's default.
const decoyIters = 4096

// Doors, for decoyKey.credentials.
const (
	doorProxy = "proxy\x00"
	doorAdmin = "admin\x00"
)

// credentials are user's decoy credentials at door, announcing iters
// rounds (the count most of that door's logins carry).
func (k *decoyKey) credentials(door, user string, iters int) scram.StoredCredentials {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, k[:])
		m.Write([]byte(door))
		m.Write([]byte(label))
		m.Write([]byte(user))
		return m.Sum(nil)
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(derive("salt\x00")[:16]), Iters: iters},
		StoredKey:  derive("stored\x00"),
		ServerKey:  derive("server\x00"),
	}
}

// salt is the salt of user's SCRAM keys at door derived from a
// plain-text password: the same for as long as the key, the name and the
// password are, and a new one when the password changes, as PostgreSQL
// picks a new salt with a new password.
func (k *decoyKey) salt(door, user, password string) []byte {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(door))
	m.Write([]byte("plain\x00"))
	m.Write([]byte(strconv.Itoa(len(user)) + ":" + user))
	m.Write([]byte(password))
	return m.Sum(nil)[:16]
}

// authMD5 runs the md5 exchange; it needs the plain-text password.
func authMD5(fe *pgproto3.Backend, send func(pgproto3.BackendMessage) error, user string, creds *credentials) error {
	var salt [4]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return err
	}
	msg, err := ask(fe, send, &pgproto3.AuthenticationMD5Password{Salt: salt}, pgproto3.AuthTypeMD5Password)
	if err != nil {
		return err
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return fatalf(codeProtocol, "expected a password message")
	}
	if creds == nil || creds.password == "" {
		return errAuthFailed(user)
	}
	want := md5Response(user, creds.password, salt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(pw.Password)) != 1 {
		return errAuthFailed(user)
	}
	return nil
}

// ask sends one authentication request and reads the client's answer,
// which fe decodes as the kind of answer the request asked for. An
// answer that does not decode (or is too long) is a protocol violation
// the client is told of; a read that failed is returned as it is.
func ask(fe *pgproto3.Backend, send func(pgproto3.BackendMessage) error, req pgproto3.BackendMessage, kind uint32) (pgproto3.FrontendMessage, error) {
	if err := send(req); err != nil {
		return nil, err
	}
	if err := fe.SetAuthType(kind); err != nil {
		return nil, err
	}
	msg, err := fe.Receive()
	var ne net.Error
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !errors.As(err, &ne) {
		return nil, fatalf(codeProtocol, "pgmoat: protocol.startup: invalid authentication message: "+err.Error())
	}
	return msg, err
}

func md5Response(user, password string, salt [4]byte) string {
	inner := md5.Sum([]byte(password + user))
	innerHex := hex.EncodeToString(inner[:])
	outer := md5.Sum(append([]byte(innerHex), salt[:]...))
	return "md5" + hex.EncodeToString(outer[:])
}
