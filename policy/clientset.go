package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// ClientSetting is a session setting a client chose with SET or RESET.
// The door answers the statement itself and puts the value in force in
// every transaction of the session; nothing reaches the server's session.
type ClientSetting struct {
	Name  string // as PostgreSQL spells it in SHOW ALL, e.g. "DateStyle"
	Value string // "" when Reset
	// Reset puts the setting back to the session's startup value (RESET
	// x, SET x TO DEFAULT).
	Reset bool
	// ResetCommand says the statement was spelled RESET, which PostgreSQL
	// answers with the command tag RESET (SET x TO DEFAULT answers SET).
	ResetCommand bool
}

// VariableSetStmt kinds, as pg_query numbers VariableSetKind.
const (
	varSetValue   = 1
	varSetDefault = 2
	varReset      = 5
)

// maxSettingValue bounds a client setting's value; application_name is
// cut to 63 bytes by the server anyway.
const maxSettingValue = 63

// clientSettings is the closed list of settings a client may choose, each
// with the check its value must pass. They change how values are shown
// or reported to the client, nothing of what it may read: search_path,
// role, session_authorization, the timeouts, the RLS setting and every
// other setting stay refused by settings.change.
var clientSettings = map[string]struct {
	name  string
	check func(string) (string, bool)
}{
	"application_name":            {"application_name", checkAppName},
	"datestyle":                   {"DateStyle", checkDateStyle},
	"timezone":                    {"TimeZone", checkTimeZone},
	"intervalstyle":               {"IntervalStyle", oneOf("postgres", "postgres_verbose", "sql_standard", "iso_8601")},
	"extra_float_digits":          {"extra_float_digits", checkFloatDigits},
	"client_min_messages":         {"client_min_messages", oneOf("debug5", "debug4", "debug3", "debug2", "debug1", "debug", "log", "notice", "warning", "error")},
	"bytea_output":                {"bytea_output", oneOf("hex", "escape")},
	"standard_conforming_strings": {"standard_conforming_strings", checkOn},
}

// variableSet judges SET, RESET and SET ... TO DEFAULT. Only the session
// forms of a listed setting with plain constants are allowed; SET LOCAL,
// SET ... FROM CURRENT, RESET ALL, SET ROLE and SET SESSION
// AUTHORIZATION (which parse to other names or kinds) are refused.
func (w *walker) variableSet(b []byte) (Kind, error) {
	refuse := func(why string) (Kind, error) {
		return KindSet, deny(RuleSettings, why)
	}
	raw, _ := findBytes(b, w.n.varName)
	name := strings.ToLower(string(raw))
	cs, ok := clientSettings[name]
	if !ok {
		return refuse("SET cannot change settings through pgmoat")
	}
	if findVarint(b, w.n.varLocal) != 0 {
		return refuse(fmt.Sprintf("SET LOCAL %s is not supported through pgmoat; use SET %s", cs.name, cs.name))
	}
	w.refuseSharing("the verdict carries a setting's value")
	switch findVarint(b, w.n.varKind) {
	case varReset, varSetDefault:
		w.setting = &ClientSetting{Name: cs.name, Reset: true, ResetCommand: findVarint(b, w.n.varKind) == varReset}
		return KindClientSetting, nil
	case varSetValue:
	default:
		return refuse(fmt.Sprintf("this form of SET %s is not allowed through pgmoat", cs.name))
	}
	var parts []string
	for _, arg := range allBytes(b, w.n.varArgs) {
		if n, ok := w.paramRef(arg); ok {
			// pg_query reads "SET x = $1" (for its normalized texts);
			// PostgreSQL's grammar does not, and answers this.
			return KindUnknown, &denial{state: SQLStateSyntax, rule: RuleParse, reason: fmt.Sprintf("syntax error at or near \"$%d\"", n)}
		}
		v, ok := w.plainConst(arg)
		if !ok {
			return refuse(fmt.Sprintf("SET %s takes plain constants only", cs.name))
		}
		parts = append(parts, v)
	}
	if len(parts) != 1 && !(cs.name == "DateStyle" && len(parts) == 2) {
		return refuse(fmt.Sprintf("SET %s takes one value", cs.name))
	}
	value := strings.Join(parts, ", ")
	if len(value) > maxSettingValue {
		return refuse(fmt.Sprintf("the value of %s is longer than %d bytes", cs.name, maxSettingValue))
	}
	checked, ok := cs.check(value)
	if !ok {
		return refuse(fmt.Sprintf("value %q is not allowed for %s", value, cs.name))
	}
	w.setting = &ClientSetting{Name: cs.name, Value: checked}
	return KindClientSetting, nil
}

// paramRef reads a parameter placeholder ($n).
func (w *walker) paramRef(b []byte) (int, bool) {
	m, inner, err := w.concrete(b)
	if err != nil || m.name != "ParamRef" {
		return 0, false
	}
	return int(int32(findVarint(inner, w.n.paramNumber))), true
}

// plainConst reads a string or number constant as SET spells it.
func (w *walker) plainConst(b []byte) (string, bool) {
	m, inner, err := w.concrete(b)
	if err != nil || m.name != "A_Const" || findVarint(inner, w.n.constIsNull) != 0 {
		return "", false
	}
	if sv, ok := findBytes(inner, w.n.constSval); ok {
		v, _ := findBytes(sv, w.n.strVal)
		return string(v), true
	}
	if iv, ok := findBytes(inner, w.n.constIval); ok {
		if w.exactOnly {
			w.lostInt = true // perhaps a negative one, which the JSON tree shows as 0
		}
		return strconv.FormatInt(int64(int32(findVarint(iv, w.n.intVal))), 10), true
	}
	if fv, ok := findBytes(inner, w.n.constFval); ok {
		v, _ := findBytes(fv, w.n.floatVal)
		return string(v), true
	}
	return "", false
}

func oneOf(words ...string) func(string) (string, bool) {
	return func(v string) (string, bool) {
		for _, w := range words {
			if strings.EqualFold(v, w) {
				return w, true
			}
		}
		return "", false
	}
}

// checkAppName allows printable ASCII, which the server keeps as it is
// (it replaces anything else with '?').
func checkAppName(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", false
		}
	}
	return v, true
}

// checkDateStyle allows what PostgreSQL's check_datestyle takes: a
// list split on commas (splitIdentifierList), each word a style (ISO,
// SQL, Postgres, German) or a field order (YMD; DMY or a word starting
// EURO; MDY, US or a word starting NONEURO), no two styles or two orders
// that differ; an empty list changes nothing. DEFAULT stands for the
// session's reset value, its style and its order where no word before it
// gave one; the door knows that value (the client's startup DateStyle,
// or the server's), not the backend, whose reset value is the pool's. The
// value is rewritten in PostgreSQL's spelling, the style before the
// order, which the server reads as it reads the client's words in any
// order (German brings DMY only when no order is given); with DEFAULT,
// where the words' order counts, each word in its place.
func checkDateStyle(v string) (string, bool) {
	words, ok := splitIdentifierList(v)
	if !ok {
		return "", false
	}
	var style, order string
	var inPlace []string
	withDefault := false
	for _, w := range words {
		s, o := dateStyleWord(w)
		switch {
		case asciiLower(w) == "default":
			withDefault = true
			inPlace = append(inPlace, "DEFAULT")
			continue
		case s == "" && o == "":
			return "", false
		case s != "" && style != "" && s != style, o != "" && order != "" && o != order:
			return "", false // conflicting
		case s != "":
			style = s
		default:
			order = o
		}
		inPlace = append(inPlace, s+o)
	}
	if withDefault {
		return strings.Join(inPlace, ", "), true
	}
	var out []string
	for _, w := range []string{style, order} {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, ", "), true
}

// dateStyleWord is the style or the field order a DateStyle word names,
// as check_datestyle compares them (case-insensitively, EURO and
// NONEURO as prefixes).
func dateStyleWord(w string) (style, order string) {
	lw := asciiLower(w)
	switch {
	case lw == "iso":
		return "ISO", ""
	case lw == "sql":
		return "SQL", ""
	case lw == "postgres":
		return "Postgres", ""
	case lw == "german":
		return "German", ""
	case lw == "ymd":
		return "", "YMD"
	case lw == "dmy" || strings.HasPrefix(lw, "euro"):
		return "", "DMY"
	case lw == "mdy" || lw == "us" || strings.HasPrefix(lw, "noneuro"):
		return "", "MDY"
	}
	return "", ""
}

// splitIdentifierList splits a list of identifiers on commas as
// PostgreSQL's SplitIdentifierString does: whitespace (space, tab,
// newline, carriage return, form feed) around each word, a word in
// double quotes kept as it is with "" for a quote, an unquoted one ending
// at a comma or whitespace and lower-cased (ASCII only); an empty or
// all-white list is empty, an empty word or anything else after a word
// is a syntax error. Words are not truncated: the ones DateStyle takes
// are short, or judged by their first letters.
func splitIdentifierList(v string) ([]string, bool) {
	i := skipListSpace(v, 0)
	if i == len(v) {
		return nil, true
	}
	var words []string
	for {
		var w string
		if v[i] == '"' {
			var b strings.Builder
			for i++; ; i++ {
				if i == len(v) {
					return nil, false // mismatched quotes
				}
				if v[i] == '"' {
					if i+1 < len(v) && v[i+1] == '"' {
						b.WriteByte('"')
						i++
						continue
					}
					i++
					break
				}
				b.WriteByte(v[i])
			}
			w = b.String()
			if w == "" {
				return nil, false
			}
		} else {
			start := i
			for i < len(v) && v[i] != ',' && !listSpace(v[i]) {
				i++
			}
			if i == start {
				return nil, false
			}
			w = asciiLower(v[start:i])
		}
		words = append(words, w)
		i = skipListSpace(v, i)
		if i == len(v) {
			return words, true
		}
		if v[i] != ',' {
			return nil, false
		}
		i = skipListSpace(v, i+1)
		if i == len(v) {
			return nil, false // a comma with no word after it
		}
	}
}

// listSpace is PostgreSQL's scanner_isspace.
func listSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func skipListSpace(v string, i int) int {
	for i < len(v) && listSpace(v[i]) {
		i++
	}
	return i
}

// checkTimeZone allows what a zone name, an abbreviation or a numeric or
// POSIX offset is spelled with; the server judges whether the zone
// exists when the first transaction applies it.
func checkTimeZone(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_/+-:.", r)) {
			return "", false
		}
	}
	return v, true
}

// checkFloatDigits allows 1 to 3, what drivers send; 0 and below are
// refused.
func checkFloatDigits(v string) (string, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 3 {
		return "", false
	}
	return strconv.Itoa(n), true
}

// checkOn allows standard_conforming_strings only on: off would make the
// server read backslashes in literals the policy judged as plain text.
func checkOn(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return "on", true
	}
	return "", false
}
