package policy

import (
	"errors"
	"testing"
)

// In a single-byte database whose lc_ctype is not C, the server
// lowercases the non-ASCII letters of unquoted names by tables of that
// locale: a bare ÉTAT is read as état. The engine does not have those
// tables, so such a name is refused (quoted, or under C, it is judged).
func TestUnquotedNonASCIIUnderALocaleIsRefused(t *testing.T) {
	for _, tc := range []struct {
		encoding, ctype, sql string
		refused              bool
	}{
		{"LATIN1", "fr_FR.ISO-8859-1", "SELECT * FROM ÉTAT", true},
		{"LATIN1", "fr_FR.ISO-8859-1", "SELECT * FROM public.Ärger", true},
		{"WIN1251", "ru_RU.CP1251", "SELECT * FROM Жук", true},
		{"SQL_ASCII", "en_US", "SELECT * FROM état", true},
		{"LATIN1", "fr_FR.ISO-8859-1", `SELECT * FROM "ÉTAT"`, false},
		{"LATIN1", "fr_FR.ISO-8859-1", "SELECT * FROM état", false},
		{"LATIN1", "fr_FR.ISO-8859-1", "SELECT 'ÉTAT'", false},
		{"LATIN1", "C", "SELECT * FROM ÉTAT", false},
		{"LATIN1", "POSIX", "SELECT * FROM ÉTAT", false},
		{"EUC_JP", "ja_JP.eucJP", "SELECT * FROM Ｔ", false},
	} {
		e := lookupEncoding(tc.encoding)
		if e == nil {
			t.Fatalf("%s: no encoding", tc.encoding)
		}
		e.foldsHigh = foldsHighBytes(tc.encoding, tc.ctype)
		_, _, err := e.serverNames(tc.sql)
		var d *denial
		refused := errors.As(err, &d) && d.rule == RuleIdentifierEncoding
		if refused != tc.refused {
			t.Errorf("%s under %s/%s: err %v, refused %v, want %v", tc.sql, tc.encoding, tc.ctype, err, refused, tc.refused)
		}
	}
}
