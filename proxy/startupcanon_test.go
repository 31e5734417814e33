package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// PostgreSQL reports a startup parameter as it holds it, not as the
// client typed it (datestyle=iso is reported "ISO, MDY"), and reads date
// and interval literals under that value. Each set of startup
// parameters logs in to PostgreSQL directly and through pgmoat; the
// login's reports, SHOW and how a literal is read must be the same.
func TestStartupParametersReportedAsPostgreSQLSpellsThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	ctx := context.Background()
	db := pgcluster.NewDatabase(t, cluster)
	var serverTZ string
	{
		c, err := pgconn.Connect(ctx, cluster.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		serverTZ = c.ParameterStatus("TimeZone")
		c.Close(ctx)
	}
	cases := []string{
		"datestyle=iso",
		"DateStyle=German",
		"datestyle='sql, dmy'",
		"datestyle=euro",
		"datestyle='postgres,ymd'",
		"intervalstyle=SQL_STANDARD",
		"IntervalStyle=Postgres_Verbose",
		"datestyle=iso intervalstyle=ISO_8601",
		"timezone=" + strings.ToLower(serverTZ),
	}
	reported := []string{"DateStyle", "IntervalStyle", "TimeZone"}
	sqls := []string{"SHOW DateStyle", "SHOW IntervalStyle", "SHOW TimeZone",
		"SELECT '01/02/03'::date::text", "SELECT '1 day 2 hours'::interval::text"}
	for _, startup := range cases {
		t.Run(startup, func(t *testing.T) {
			t.Parallel()
			transcript := func(dsn string) string {
				c, err := pgconn.Connect(ctx, dsn+" "+startup)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				var b strings.Builder
				for _, name := range reported {
					fmt.Fprintf(&b, "report %s=%q\n", name, c.ParameterStatus(name))
				}
				for _, sql := range sqls {
					rs, err := c.Exec(ctx, sql).ReadAll()
					if err != nil {
						t.Fatalf("%s: %v", sql, err)
					}
					fmt.Fprintf(&b, "%s: %s\n", sql, rs[0].Rows[0][0])
				}
				return b.String()
			}
			want := transcript(cluster.DSN(db))
			if got := transcript(f.dsn("alice")); got != want {
				t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
			}
		})
	}
}

// A startup value PostgreSQL would refuse is not turned into one it
// takes: it stays as typed, for the server to refuse.
func TestCanonicalStartupKeepsWhatPostgreSQLRefuses(t *testing.T) {
	for _, c := range []struct{ name, v, server, want string }{
		{"DateStyle", "iso", "ISO, MDY", "ISO, MDY"},
		{"DateStyle", "German", "ISO, MDY", "German, DMY"},
		{"DateStyle", "ymd", "SQL, DMY", "SQL, YMD"},
		{"DateStyle", "iso, sql", "ISO, MDY", "iso, sql"},
		{"DateStyle", "dmy, mdy", "ISO, MDY", "dmy, mdy"},
		{"DateStyle", "iso mdy", "ISO, MDY", "iso mdy"},
		{"DateStyle", "klingon", "ISO, MDY", "klingon"},
		{"IntervalStyle", "ISO_8601", "postgres", "iso_8601"},
		{"IntervalStyle", "Nope", "postgres", "Nope"},
		{"TimeZone", "etc/utc", "Etc/UTC", "Etc/UTC"},
		{"TimeZone", "europe/paris", "Etc/UTC", "europe/paris"},
	} {
		if got := canonicalStartup(c.name, c.v, c.server); got != c.want {
			t.Errorf("%s=%q over %q: %q, want %q", c.name, c.v, c.server, got, c.want)
		}
	}
}
