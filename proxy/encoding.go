package proxy

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The policy engine judges a statement's bytes as UTF-8; PostgreSQL
// lexes them after converting them from the client encoding to the server
// encoding. The two views agree only for these client encodings:
//
//   - UTF8: the server converts UTF-8 to its own encoding character by
//     character (or fails), and every server encoding keeps ASCII bytes
//     ASCII, so quotes, backslashes and semicolons stay where the policy
//     saw them and names stay the same characters.
//   - SQL_ASCII, on a UTF8 (or SQL_ASCII) database: PostgreSQL does no
//     conversion at all and only validates the bytes as the database
//     encoding (mbutils.c, pg_any_to_server), and the policy refuses
//     invalid UTF-8 itself. psql sends it when its locale is C
//     (client_encoding=auto on a terminal), so refusing it would lock
//     out real clients. On a database in another encoding the same bytes
//     would be read as other characters, so there it is refused.
//
// Everything else is refused: the multi-byte client-only encodings (SJIS,
// SHIFT_JIS_2004, BIG5, GBK, GB18030, UHC, JOHAB) carry a backslash or
// a quote as the second byte of a character, so a literal to the policy
// ends early on the server; the single-byte and EUC ones turn every byte
// above 0x7F into another character, so the names the policy judged are
// not the names the server resolves.

// canonicalEncoding spells an encoding name as PostgreSQL reports it,
// after normalizing it as PostgreSQL does (clean_encoding_name: lower
// case, only letters and digits), so 'utf-8', 'Unicode' and 'UTF8' are
// one encoding. ok is false for every encoding pgmoat does not accept.
func canonicalEncoding(name, serverEncoding string) (canonical string, ok bool) {
	switch cleanEncodingName(name) {
	case "utf8", "unicode":
		return "UTF8", true
	case "sqlascii":
		switch cleanEncodingName(serverEncoding) {
		case "utf8", "unicode", "sqlascii", "":
			return "SQL_ASCII", true
		}
	}
	return "", false
}

func cleanEncodingName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// errClientEncoding refuses a startup packet's client_encoding. 22023
// (invalid_parameter_value) is what PostgreSQL itself answers for a
// client_encoding it does not know: the request is well formed, the
// value is what is refused.
func errClientEncoding(name, serverEncoding string) *wireError {
	return fatalf(codeInvalidParam, fmt.Sprintf(
		"pgmoat: startup.client_encoding: client encoding %q is not accepted (the server would read the statement's bytes differently from how pgmoat judged them); connect with client_encoding UTF8 (server encoding %s)",
		name, serverEncoding))
}

// The guarded settings are those the backend reports with
// ParameterStatus that change what a statement's bytes mean
// (client_encoding: how they are converted; standard_conforming_strings:
// whether a backslash escapes in '...') or who runs it
// (session_authorization, is_superuser). A backend that reports one of
// them changing to a value pgmoat did not put in force is in a state the
// policy does not know and is never lent again.

// guardedValue is the value pgmoat put in force for a guarded setting on
// bk for a borrower with settings want; ok is false for other settings.
func guardedValue(bk *backend, want settings, name string) (value string, ok bool) {
	switch name {
	case "client_encoding":
		if v, set := want.value(name); set {
			return v, true
		}
		return "UTF8", true // the pool's startup value
	case "standard_conforming_strings":
		return "on", true
	case "session_authorization", "is_superuser":
		return bk.params[name], true
	}
	return "", false
}

// tamperedReport checks a ParameterStatus body from bk: a guarded setting
// reported with a value other than the one pgmoat put in force means a
// statement changed it behind the policy's back. The backend must then
// be discarded and the borrower stopped.
func tamperedReport(bk *backend, want settings, body []byte) *wireError {
	var ps pgproto3.ParameterStatus
	if err := ps.Decode(body); err != nil {
		return fatalf(codeProtocol, "pgmoat: protocol.backend: malformed ParameterStatus from the server")
	}
	expected, guarded := guardedValue(bk, want, ps.Name)
	if !guarded || ps.Value == expected {
		return nil
	}
	return fatalf(codeDenied, fmt.Sprintf(
		"pgmoat: backend.guarded_setting: the server reports %s changed to %q, but pgmoat put %q in force; a statement changed it behind the policy, so the server connection is discarded and this session ends",
		ps.Name, ps.Value, expected))
}
