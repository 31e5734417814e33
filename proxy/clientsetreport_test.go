package proxy

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// PostgreSQL reports a setting's value as SHOW spells it, not as the
// client typed it: drivers read some of these reports (pgjdbc wants
// DateStyle to start with ISO, pgx reads standard_conforming_strings),
// and a DateStyle given without a field order keeps the order in force.
// Each sequence of SETs runs on PostgreSQL directly and through pgmoat;
// the reports, the answers and what SHOW says must be the same.
func TestClientSetReportsCanonicalValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	query := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}
	}
	extended := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}}
	}
	cases := []struct {
		name    string
		startup string // extra connection parameters
		sqls    []string
		ext     bool // in the extended protocol
	}{
		{name: "DateStyle German", sqls: []string{"SET DateStyle = 'German'"}},
		{name: "DateStyle german extended", sqls: []string{"SET DateStyle = 'german'"}, ext: true},
		{name: "DateStyle iso", sqls: []string{"SET DateStyle = 'iso'"}},
		{name: "DateStyle sql, dmy", sqls: []string{"SET DateStyle = 'sql, dmy'"}},
		{name: "DateStyle keeps the order", sqls: []string{"SET DateStyle = 'SQL, DMY'", "SET DateStyle = 'ISO'"}},
		{name: "DateStyle keeps the style", sqls: []string{"SET DateStyle = 'Postgres'", "SET DateStyle = 'Euro'"}},
		{name: "DateStyle German, MDY", sqls: []string{"SET DateStyle = 'German, MDY'"}},
		{name: "DateStyle two values", sqls: []string{"SET DateStyle = ymd, sql"}},
		{name: "DateStyle US, NonEuropean", sqls: []string{"SET DateStyle = 'sql, dmy'", "SET DateStyle = 'US'", "SET DateStyle = 'NonEuropean'"}},
		{name: "DateStyle reset to startup", startup: "datestyle=iso", sqls: []string{"SET DateStyle = 'SQL, DMY'", "RESET DateStyle"}},
		{name: "DateStyle extended keeps the order", sqls: []string{"SET DateStyle = 'SQL, DMY'", "SET DateStyle = 'iso'"}, ext: true},
		{name: "IntervalStyle case", sqls: []string{"SET IntervalStyle = 'SQL_Standard'", "SET IntervalStyle = ISO_8601"}},
		{name: "TimeZone utc", sqls: []string{"SET TimeZone = 'utc'"}},
		{name: "TimeZone spelling", sqls: []string{"SET TimeZone = 'europe/paris'", "SET TimeZone = 'america/new_york'"}},
		{name: "TimeZone offset", sqls: []string{"SET TimeZone = '+2'"}},
		{name: "TimeZone POSIX", sqls: []string{"SET TimeZone = 'est5edt'"}},
		{name: "TimeZone negative", sqls: []string{"SET TIME ZONE -5", "SET TimeZone = -3", "SET TimeZone = 0"}},
		{name: "TimeZone extended", sqls: []string{"SET TimeZone = 'gmt'"}, ext: true},
		{name: "standard_conforming_strings", sqls: []string{"SET standard_conforming_strings = 'true'", "SET standard_conforming_strings = yes"}},
		{name: "application_name", sqls: []string{"SET application_name = 'My App 1'"}},
		// DEFAULT is the session's reset value: the startup one, else
		// the server's, as a word of its own or among others.
		{name: "DateStyle default word", sqls: []string{"SET DateStyle = 'SQL, DMY'", "SET DateStyle = 'default'"}},
		{name: "DateStyle sql, default", sqls: []string{"SET DateStyle = 'SQL, DMY'", "SET DateStyle = 'sql, default'"}},
		{name: "DateStyle default over startup", startup: "datestyle=sql,dmy", sqls: []string{"SET DateStyle = 'german, default'", "SET DateStyle = 'default, ymd'", "SET DateStyle = 'ISO'", "SET DateStyle = '\"DEFAULT\"'"}},
		{name: "DateStyle default extended", startup: "datestyle=postgres", sqls: []string{"SET DateStyle = 'ISO'", "SET DateStyle = 'DEFAULT'"}, ext: true},
		{name: "DateStyle TO DEFAULT", startup: "datestyle=german", sqls: []string{"SET DateStyle = 'ISO, YMD'", "SET DateStyle TO DEFAULT"}},
		{name: "TimeZone = DEFAULT", startup: "timezone=europe/paris", sqls: []string{"SET TimeZone = 'UTC'", "SET TimeZone = DEFAULT"}},
		{name: "IntervalStyle TO DEFAULT", sqls: []string{"SET IntervalStyle = 'iso_8601'", "SET SESSION IntervalStyle TO DEFAULT"}},
		{name: "application_name TO DEFAULT", startup: "application_name=a0", sqls: []string{"SET application_name = 'x'", "SET application_name TO DEFAULT"}},
		{name: "extra_float_digits TO DEFAULT", startup: "extra_float_digits=2", sqls: []string{"SET extra_float_digits = 3", "SET extra_float_digits TO DEFAULT"}},
		{name: "client_min_messages TO DEFAULT", sqls: []string{"SET client_min_messages = 'error'", "SET client_min_messages TO DEFAULT"}},
		{name: "bytea_output TO DEFAULT", sqls: []string{"SET bytea_output = 'escape'", "SET bytea_output TO DEFAULT"}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var batches [][]pgproto3.FrontendMessage
			setting := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(c.sqls[0], "SET "), "RESET "))[0]
			for _, sql := range append(c.sqls, "SHOW "+setting) {
				if c.ext {
					batches = append(batches, extended(sql))
				} else {
					batches = append(batches, query(sql))
				}
			}
			transcriptsMatch(t, cluster.DSN(db)+" "+c.startup, f.dsn("alice")+" "+c.startup, batches, transcriptOptions{rows: true})
		})
	}
}
