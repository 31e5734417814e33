package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// URL userinfo.
		{"postgres://u:pw@127.0.0.1:5432/db", "postgres://u:********@127.0.0.1:5432/db"},
		{"postgresql://u:pw@h/db", "postgresql://u:********@h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u:p%40w@h/db", "postgres://u:********@h/db"},
		{"postgres://u:a@b@h/db", "postgres://u:********@h/db"},   // libpq: "a", others: "a@b"
		{"postgres://u:a:b@h/db", "postgres://u:********@h/db"},   // the first ':' splits
		{"postgres://u:p?w@h/db", "postgres://u:********@h/db"},   // libpq looks past '?' for '@'
		{"postgres://u:a b@h/db", "postgres://u:********@h/db"},   // spaces in userinfo
		{"postgres://u:pa/ss@h/db", "postgres://u:********@h/db"}, // a stranded '@'
		{"postgres://u:pw@h1:5432,h2:5433/db", "postgres://u:********@h1:5432,h2:5433/db"},
		// URL query parameters, any case and encoding of the key.
		{"postgres://h/db?password=pw", "postgres://h/db?password=********"},
		{"postgres://h/db?sslmode=disable&password=pw&x=1", "postgres://h/db?sslmode=disable&password=********&x=1"},
		{"postgres://h/db?PassWord=pw", "postgres://h/db?PassWord=********"},
		{"postgres://h/db?pass%77ord=pw", "postgres://h/db?pass%77ord=********"},
		{"postgres://h/db?%70%61%73%73%77%6F%72%64=pw", "postgres://h/db?%70%61%73%73%77%6F%72%64=********"},
		{"postgres://h/db?sslpassword=kp", "postgres://h/db?sslpassword=********"},
		{"postgres://h/db?password=a b#frag", "postgres://h/db?password=********#frag"},
		{"postgres://h/db?password=a%26b", "postgres://h/db?password=********"},
		{"postgres://h/db?pass%zzword=pw", "postgres://h/db?pass%zzword=********"}, // undecodable: masked anyway
		{"postgres://u:x@h/db?password=y", "postgres://u:********@h/db?password=********"},
		// keyword/value.
		{"host=h user=u password=pw dbname=d", "host=h user=u password=******** dbname=d"},
		{"host=h password='p w\\'x' dbname=d", "host=h password=******** dbname=d"},
		{"host=h PASSWORD = secret", "host=h PASSWORD = ********"},
		{"host=h password=a\\ b dbname=d", "host=h password=******** dbname=d"},     // escaped space
		{"host=h password= host2=x dbname=d", "host=h password= ******** dbname=d"}, // libpq skips spaces after '='
		{"host=h\tpassword=pw\tdbname=d", "host=h\tpassword=********\tdbname=d"},
		{"host=h\vpassword=pw", "host=h\vpassword=********"},
		{"host=h sslpassword=kp", "host=h sslpassword=********"},
		{"password=pw", "password=********"},
		{"host=h password='unterminated", "host=h password=********"},
		{"dbname='postgres://u:pw@h/db'", "dbname='postgres://u:********@h/db'"},
		// Text that carries a DSN.
		{"cannot parse `host=h password=pw`: bad port", "cannot parse `host=h password=******** bad port"},
		{"failed to connect to `user=u database=d`: password authentication failed", "failed to connect to `user=u database=d`: password authentication failed"},
		{"no secrets here", "no secrets here"},
	} {
		if got := RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestShowConfigMasksDSN: SHOW CONFIG's rows never carry the backend
// password, whichever way the DSN spells it.
func TestShowConfigMasksDSN(t *testing.T) {
	for _, dsn := range []string{
		"postgres://pgmoat@127.0.0.1/shop?password=hunter2",
		"postgres://pgmoat:hunter2@127.0.0.1/shop",
		"postgres://127.0.0.1/shop?user=pgmoat&pass%77ord=hunter2",
		"host=127.0.0.1 user=pgmoat password='hunter2' dbname=shop",
	} {
		c := &Config{Backend: Backend{DSN: Secret(dsn)}}
		for _, row := range c.Rows() {
			if strings.Contains(row[1], "hunter2") {
				t.Errorf("%s = %q shows the password of %q", row[0], row[1], dsn)
			}
		}
	}
}

// dsnForms places a password in each spelling a connection string can
// carry it, encoded so that the parser reads exactly that password back.
func dsnForms(pw string) []string {
	kvQuoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
	kvBare := strings.NewReplacer(`\`, `\\`, " ", `\ `, "\t", "\\\t", "\n", "\\\n", "\v", "\\\v", "\f", "\\\f", "\r", "\\\r", "'", `\'`).Replace(pw)
	return []string{
		"postgres://u:" + url.PathEscape(pw) + "@127.0.0.1:5432/db?sslmode=disable",
		"postgres://u:" + url.QueryEscape(pw) + "@127.0.0.1:5432/db",
		"postgres://u@127.0.0.1:5432/db?password=" + url.QueryEscape(pw) + "&sslmode=disable",
		"postgres://u@127.0.0.1:5432/db?pass%77ord=" + url.PathEscape(pw),
		"host=127.0.0.1 port=5432 user=u password=" + kvQuoted + " dbname=db",
		"host=127.0.0.1 port=5432 user=u password = " + kvQuoted,
		"host=127.0.0.1 port=5432 user=u password=" + kvBare + " dbname=db",
	}
}

// FuzzRedactDSN: whatever the password, once a spelling carries it to the
// parser, neither it nor its encoded form is left in the masked text.
func FuzzRedactDSN(f *testing.F) {
	for _, seed := range []string{"pw", "hunter2", "a b", `a\'b`, "p@ss/w:rd?x&y=z#", "password=", "%41", "'", `\`, "ünï"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 3 || strings.ContainsAny(pw, "\x00") {
			t.Skip()
		}
		for _, dsn := range dsnForms(pw) {
			cfg, err := pgconn.ParseConfig(dsn)
			if err != nil || cfg.Password != pw {
				continue // not a spelling that carries this password
			}
			masked := RedactDSN(dsn)
			template := dsnForms("")
			// The mask itself is no leak: NUL, which pw lacks, stands in for it.
			bare := strings.ReplaceAll(masked, mask, "\x00")
			for _, leak := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw)} {
				if strings.Contains(bare, leak) && !containsAny(template, leak) {
					t.Fatalf("RedactDSN(%q) = %q: %q left in", dsn, masked, leak)
				}
			}
			if again, err := pgconn.ParseConfig(masked); err == nil && again.Password == pw {
				t.Fatalf("RedactDSN(%q) = %q still parses to the password", dsn, masked)
			}
			embedded := RedactDSN(fmt.Sprintf("cannot parse `%s`: oops", dsn))
			if strings.Contains(strings.ReplaceAll(embedded, mask, "\x00"), pw) && !containsAny(template, pw) {
				t.Fatalf("RedactDSN of an error quoting %q = %q", dsn, embedded)
			}
		}
	})
}

func containsAny(texts []string, sub string) bool {
	for _, s := range texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// RedactCause keeps only the innermost error of a chain, masked.
func TestRedactCause(t *testing.T) {
	t.Parallel()
	root := errors.New("cannot parse `host=h password=hunter2 port=x`: invalid port")
	err := fmt.Errorf("connect: %w", fmt.Errorf("config: %w", root))
	if got, want := RedactCause(err), "cannot parse `host=h password=******** port=x`: invalid port"; got != want {
		t.Errorf("RedactCause = %q, want %q", got, want)
	}
}

// TestContainsPass: the fast check agrees with lowering the text.
func TestContainsPass(t *testing.T) {
	for _, s := range []string{"", "pas", "pass", "PASSWORD=x", "xPaSs", "p a s s", "pasS", "ṗass", "PAS\x00S", "SELECT 1", "pa55"} {
		if got, want := containsPass(s), strings.Contains(strings.ToLower(s), "pass"); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}
