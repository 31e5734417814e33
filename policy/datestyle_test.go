package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// dateStyleCases are DateStyle values: the list PostgreSQL 15 splits on
// commas (whitespace only around the words, double quotes for a quoted
// word), the words it knows, a prefix of two, conflicts and repeats.
var dateStyleCases = []string{
	"sql dmy", "sql,dmy", "sql , dmy", "iso, ymd", "postgres, euro", "german", "iso, iso", "iso, sql",
	"mdy, dmy", "", "   ", "ISO", "Iso, Mdy", " iso ", "\tiso\t,\ndmy\r", "iso\f", "iso\v",
	"iso,", ",iso", "iso,,dmy", "iso, , dmy", "iso;dmy", "iso dmy, sql",
	`"iso"`, `"ISO", "dmy"`, `""`, `"i so"`, `"iso `, `"iso"dmy`, `iso"dmy"`, `"iso""x"`, `"iso" , dmy`,
	"euro", "european", "europe", "EUROx", "eur", "noneuro", "NonEuropean", "noneurox", "noneur", "us", "usa",
	"german, mdy", "mdy, german", "dmy, euro", "euro, mdy", "us, noneuro", "ymd, ymd", "sql, german",
	"euro" + strings.Repeat("x", 70), "ıso", "ÍSO",
	"default", "DEFAULT", `"Default"`, "sql, default", "default, sql", "german, default", "default, german",
	"dmy, default", "default, ymd", "default, default", "iso, default, sql", "default, german, mdy", "default dmy",
}

// checkDateStyle accepts exactly the DateStyle values PostgreSQL 15
// accepts, and what it rewrites a value to leaves the server with the
// DateStyle the value does, over more than one DateStyle in force. The
// server is the oracle for every case; DEFAULT, the session's reset
// value, is the server's own in both.
func TestDateStyleAsPostgreSQL(t *testing.T) {
	c, db := sharedDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// set is the DateStyle the server holds after v is set over base, or
	// ok false when it refuses v.
	set := func(base, v string) (string, bool) {
		t.Helper()
		if _, err := conn.Exec(ctx, "SELECT set_config('DateStyle', $1, false)", base); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := conn.QueryRow(ctx, "SELECT set_config('DateStyle', $1, false)", v).Scan(&got); err != nil {
			if !strings.Contains(err.Error(), "22023") {
				t.Fatalf("%q: %v", v, err)
			}
			return "", false
		}
		return got, true
	}
	for _, v := range dateStyleCases {
		rewritten, ok := checkDateStyle(v)
		for _, base := range []string{"ISO, MDY", "SQL, DMY", "German, YMD"} {
			want, accepted := set(base, v)
			if ok != accepted {
				t.Errorf("%q over %q: the policy accepts it: %v (as %q), PostgreSQL: %v", v, base, ok, rewritten, accepted)
				continue
			}
			if !ok {
				continue
			}
			if got, _ := set(base, rewritten); got != want {
				t.Errorf("%q over %q: rewritten %q leaves %q, PostgreSQL %q", v, base, rewritten, got, want)
			}
		}
	}
}
