package proxy

import (
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// PostgreSQL keeps, shows and reports a setting's value in its own
// spelling, not the client's: SET DateStyle = 'German' leaves "German,
// DMY", 'iso' leaves "ISO" with the field order already in force, 'utc'
// leaves the TimeZone "UTC". Drivers read these reports (pgjdbc wants a
// DateStyle starting with ISO, pgx reads standard_conforming_strings),
// and PostgreSQL reports a change of that value, not a SET. The session
// takes a client SET in that spelling (canonicalSetting), so the
// ParameterStatus it sends, the value it puts in force in each
// transaction and the statements' names (statementSalt) all carry what
// PostgreSQL would hold:
//
//   - DateStyle is read as PostgreSQL reads it (check_datestyle): a
//     style or an order given alone keeps the other of the value in
//     force, German alone brings DMY.
//   - TimeZone only the server can spell: the check the session runs on
//     a backend anyway returns set_config's answer, the server's spelling
//     (serverValue).
//   - IntervalStyle and standard_conforming_strings come from the policy
//     in the server's spelling already (lower case; on), and
//     application_name as typed, printable ASCII of at most 63 bytes,
//     which the server keeps as it is.
//
// A startup parameter the client chose is taken in that spelling at
// login (canonicalStartups, and checkStartups for what only a server can
// spell), before it is reported, applied or salted, and so is what a
// RESET brings back (reportOf).

// dateStyles and dateOrders are the words of a DateStyle, as PostgreSQL
// reads them (case-insensitively) and spells them.
var (
	dateStyles = map[string]string{"iso": "ISO", "sql": "SQL", "postgres": "Postgres", "german": "German"}
	dateOrders = map[string]string{
		"ymd": "YMD", "dmy": "DMY", "euro": "DMY", "european": "DMY",
		"mdy": "MDY", "us": "MDY", "noneuro": "MDY", "noneuropean": "MDY",
	}
)

// canonicalDateStyle is the DateStyle PostgreSQL holds after the value v
// is set over inForce (itself in any spelling; "" for the server's
// built-in ISO, MDY), reset being the session's reset value, which a
// DEFAULT among v's words stands for.
func canonicalDateStyle(v, inForce, reset string) string {
	style, order := readDateStyle(inForce, "ISO", "MDY", "")
	style, order = readDateStyle(v, style, order, reset)
	return style + ", " + order
}

// readDateStyle applies the words of v to style and order as
// check_datestyle does: German brings DMY unless an order came before
// it, DEFAULT the style and the order of reset that no word before it
// gave. A word it does not know (the policy lets none through) changes
// nothing.
func readDateStyle(v, style, order, reset string) (string, string) {
	haveStyle, haveOrder := false, false
	for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' }) {
		if o, ok := dateOrders[w]; ok {
			order, haveOrder = o, true
		} else if st, ok := dateStyles[w]; ok {
			style, haveStyle = st, true
			if st == "German" && !haveOrder {
				order = "DMY"
			}
		} else if w == "default" {
			rs, ro := readDateStyle(reset, "ISO", "MDY", "")
			if !haveStyle {
				style = rs
			}
			if !haveOrder {
				order = ro
			}
		}
	}
	return style, order
}

// canonicalStartup spells a client's startup parameter as PostgreSQL
// reports it, where pgmoat can: over the server's value for DateStyle,
// lower case for IntervalStyle, the server's own zone in its spelling.
// A value PostgreSQL would refuse stays as typed, for the server to
// refuse (checkStartups, or the session's first statement,
// settings.refused) rather than pgmoat putting something else in force;
// so does any other TimeZone, which only the server can spell.
func canonicalStartup(name, v, server string) string {
	switch name {
	case "DateStyle":
		if validDateStyle(v) {
			return canonicalDateStyle(v, server, "")
		}
	case "IntervalStyle":
		if l := strings.ToLower(v); intervalStyles[l] {
			return l
		}
	case "TimeZone":
		if strings.EqualFold(v, server) {
			return server
		}
	}
	return v
}

// canonicalStartups puts the client's startup DateStyle, IntervalStyle
// and TimeZone in PostgreSQL's spelling over the server's parameters, in
// place, before anything reports, applies or salts them.
// What they leave as typed, a TimeZone other than the server's own above
// all, a backend judges and spells next (checkStartups).
func canonicalStartups(client, server map[string]string) {
	for _, name := range parseSettings {
		if v, ok := client[name]; ok {
			client[name] = canonicalStartup(name, v, server[name])
		}
	}
}

// intervalStyles are the values of IntervalStyle, as PostgreSQL spells
// them (it reads them case-insensitively).
var intervalStyles = map[string]bool{"postgres": true, "postgres_verbose": true, "sql_standard": true, "iso_8601": true}

// validDateStyle reports whether PostgreSQL takes v as a DateStyle
// (check_datestyle): a comma-separated list of known words, at most one
// style and one order. DEFAULT and quoted words are left to the server.
func validDateStyle(v string) bool {
	var style, order string
	for _, w := range strings.Split(v, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if o, ok := dateOrders[w]; ok {
			if order != "" && order != o {
				return false
			}
			order = o
		} else if st, ok := dateStyles[w]; ok {
			if style != "" && style != st {
				return false
			}
			style = st
		} else {
			return false
		}
	}
	return true
}

// canonicalSetting is the value of the DateStyle the client SET, as
// PostgreSQL holds it over the one in force; any other value as it is.
func (s *session) canonicalSetting(name, v string) string {
	if name != "DateStyle" {
		return v
	}
	var inForce string
	if r := s.reportOf(name); r != nil {
		inForce = r.Value
	}
	var reset string
	if r := s.resetReport(name); r != nil {
		reset = r.Value
	}
	return canonicalDateStyle(v, inForce, reset)
}

// statusOf is the ParameterStatus of a reported setting's value.
func statusOf(name, v string) *pgproto3.ParameterStatus {
	return &pgproto3.ParameterStatus{Name: name, Value: v}
}
