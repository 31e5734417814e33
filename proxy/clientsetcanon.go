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
// A startup parameter the client chose is spelled the same way when a
// RESET brings it back (reportOf).

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
// built-in ISO, MDY).
func canonicalDateStyle(v, inForce string) string {
	style, order := readDateStyle(inForce, "ISO", "MDY")
	style, order = readDateStyle(v, style, order)
	return style + ", " + order
}

// readDateStyle applies the words of v to style and order; a word it
// does not know (the policy lets none through) changes nothing.
func readDateStyle(v, style, order string) (string, string) {
	haveOrder := false
	for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' }) {
		if o, ok := dateOrders[w]; ok {
			order, haveOrder = o, true
		} else if st, ok := dateStyles[w]; ok {
			style = st
			if st == "German" && !haveOrder {
				order = "DMY"
			}
		}
	}
	return style, order
}

// canonicalStartup spells a client's startup parameter as PostgreSQL
// reports it, where pgmoat can: over the server's value for DateStyle,
// lower case for IntervalStyle. A TimeZone stays as the client typed it.
func canonicalStartup(name, v, server string) string {
	switch name {
	case "DateStyle":
		return canonicalDateStyle(v, server)
	case "IntervalStyle":
		return strings.ToLower(v)
	}
	return v
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
	return canonicalDateStyle(v, inForce)
}

// statusOf is the ParameterStatus of a reported setting's value.
func statusOf(name, v string) *pgproto3.ParameterStatus {
	return &pgproto3.ParameterStatus{Name: name, Value: v}
}
