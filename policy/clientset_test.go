package policy

import "testing"

// TestClientSettings decides every form of SET a driver sends: the
// listed settings with plain, checked values become a client setting,
// everything else stays refused by settings.change.
func TestClientSettings(t *testing.T) {
	e := newTestEngine(t)
	id := Identity{UserID: "1"}
	allowed := []struct {
		sql  string
		want ClientSetting
	}{
		{"SET application_name = 'DBeaver 25.1.5 - Main <postgres>'", ClientSetting{Name: "application_name", Value: "DBeaver 25.1.5 - Main <postgres>"}},
		{"SET application_name TO psql", ClientSetting{Name: "application_name", Value: "psql"}},
		{"SET SESSION application_name = 'x'", ClientSetting{Name: "application_name", Value: "x"}},
		{`SET "application_name" = ''`, ClientSetting{Name: "application_name", Value: ""}},
		{"SET extra_float_digits = 3", ClientSetting{Name: "extra_float_digits", Value: "3"}},
		{"SET extra_float_digits TO 2", ClientSetting{Name: "extra_float_digits", Value: "2"}},
		{"SET DateStyle = 'ISO'", ClientSetting{Name: "DateStyle", Value: "ISO"}},
		{"SET datestyle TO ISO, MDY", ClientSetting{Name: "DateStyle", Value: "ISO, MDY"}},
		{"SET DATESTYLE TO 'German, DMY'", ClientSetting{Name: "DateStyle", Value: "German, DMY"}},
		{"SET TimeZone = 'UTC'", ClientSetting{Name: "TimeZone", Value: "UTC"}},
		{"SET SESSION timezone TO 'Europe/Berlin'", ClientSetting{Name: "TimeZone", Value: "Europe/Berlin"}},
		{"SET TIME ZONE 'UTC'", ClientSetting{Name: "TimeZone", Value: "UTC"}},
		{"SET TIME ZONE -5", ClientSetting{Name: "TimeZone", Value: "-5"}},
		{"SET TimeZone = -12", ClientSetting{Name: "TimeZone", Value: "-12"}},
		{"SET TimeZone = 0", ClientSetting{Name: "TimeZone", Value: "0"}},
		{"SET intervalstyle = iso_8601", ClientSetting{Name: "IntervalStyle", Value: "iso_8601"}},
		{"SET client_min_messages TO WARNING", ClientSetting{Name: "client_min_messages", Value: "warning"}},
		{"SET bytea_output = 'hex'", ClientSetting{Name: "bytea_output", Value: "hex"}},
		{"SET standard_conforming_strings = on", ClientSetting{Name: "standard_conforming_strings", Value: "on"}},
		{"SET standard_conforming_strings TO true", ClientSetting{Name: "standard_conforming_strings", Value: "on"}},
		{"RESET application_name", ClientSetting{Name: "application_name", Reset: true, ResetCommand: true}},
		{"RESET DateStyle", ClientSetting{Name: "DateStyle", Reset: true, ResetCommand: true}},
		{"SET TimeZone TO DEFAULT", ClientSetting{Name: "TimeZone", Reset: true}},
		{"SET application_name = DEFAULT", ClientSetting{Name: "application_name", Reset: true}},
		{"SET DateStyle TO DEFAULT", ClientSetting{Name: "DateStyle", Reset: true}},
		{"SET DateStyle = 'default'", ClientSetting{Name: "DateStyle", Value: "DEFAULT"}},
		{"SET DateStyle = 'German, Default'", ClientSetting{Name: "DateStyle", Value: "German, DEFAULT"}},
		{`SET DateStyle = '"DEFAULT", euro'`, ClientSetting{Name: "DateStyle", Value: "DEFAULT, DMY"}},
	}
	for _, c := range allowed {
		v := e.DecideQuery(id, c.sql)
		if !v.Allowed || v.Kind != KindClientSetting || v.Setting == nil || *v.Setting != c.want {
			t.Errorf("%s: got allowed=%v kind=%s setting=%+v (%s), want %+v", c.sql, v.Allowed, v.Kind, v.Setting, v.Reason, c.want)
		}
	}
	refused := []string{
		"SET search_path = evil, public",
		"SET search_path TO DEFAULT",
		"RESET search_path",
		"SET statement_timeout = 0",
		"RESET statement_timeout",
		"SET ROLE postgres",
		"RESET ROLE",
		"SET SESSION AUTHORIZATION postgres",
		"SET request.user_id = 'other'",
		"SET default_transaction_read_only = off",
		"SET transaction_read_only = off",
		"SET TRANSACTION READ WRITE",
		"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
		"RESET ALL",
		"DISCARD ALL",
		"SET LOCAL application_name = 'x'",
		"SET LOCAL statement_timeout = 0",
		"SET application_name FROM CURRENT",
		"SET standard_conforming_strings = off",
		"SET standard_conforming_strings = 'off'",
		"SET client_encoding = 'SJIS'",
		"SET bytea_output = 'base64'",
		"SET extra_float_digits = 4",
		"SET extra_float_digits = 0",
		"SET extra_float_digits = -2",
		"SET extra_float_digits = 2.5",
		"SET DateStyle = 'ISO, SQL'",
		"SET DateStyle = 'ISO; DROP'",
		"SET IntervalStyle = 'iso'",
		"SET client_min_messages = panic",
		"SET TimeZone = 'UTC''; x'",
		"SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE",
		"SET application_name = 'tab\there'",
		"SET application_name = 'a', 'b'",
		"SET application_name = '" + string(make([]byte, 0)) + "0123456789012345678901234567890123456789012345678901234567890123'",
		"SET application_name = 'x'; SELECT 1",
	}
	for _, sql := range refused {
		v := e.DecideQuery(id, sql)
		if v.Allowed || v.Rule != RuleSettings && v.Rule != RuleMultiStmt || v.SQLState != SQLStateDenied || v.Setting != nil {
			t.Errorf("%s: got allowed=%v rule=%s state=%s setting=%+v, want settings.change", sql, v.Allowed, v.Rule, v.SQLState, v.Setting)
		}
	}
}

// A parameter in SET is not valid PostgreSQL (its grammar takes
// constants only), though pg_query reads it: it is refused with the
// server's own syntax error.
func TestClientSettingWithAParameterIsASyntaxError(t *testing.T) {
	e := newTestEngine(t)
	for _, sql := range []string{"SET application_name = $1", "SET DateStyle = 'ISO', $2"} {
		v := e.Decide(Identity{UserID: "1"}, sql)
		want := `syntax error at or near "$1"`
		if sql[len(sql)-1] == '2' {
			want = `syntax error at or near "$2"`
		}
		if v.Allowed || v.SQLState != SQLStateSyntax || v.Rule != RuleParse || v.Reason != want || v.Setting != nil {
			t.Errorf("%s: got allowed=%v state=%s rule=%s reason=%q setting=%+v", sql, v.Allowed, v.SQLState, v.Rule, v.Reason, v.Setting)
		}
	}
}

// TestClientSettingsShareNoShape makes sure two SETs that differ only in
// their value never share a verdict through the shape cache.
func TestClientSettingsShareNoShape(t *testing.T) {
	e := newTestEngine(t)
	id := Identity{UserID: "1"}
	for range 3 {
		for _, v := range []string{"alpha", "beta", "gamma"} {
			got := e.DecideQuery(id, "SET application_name = '"+v+"'")
			if got.Setting == nil || got.Setting.Value != v {
				t.Fatalf("SET application_name = %q: got %+v", v, got.Setting)
			}
		}
	}
}
