package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxValueBytes caps one string argument. Longer values are refused
// before they reach the database: no indexed lookup needs a megabyte, and a
// huge trigram pattern costs the server real work.
const DefaultMaxValueBytes = 8 << 10

// callArgs are a tool call's arguments after validation: every value is in
// PostgreSQL text form, ready to travel as a bind parameter.
type callArgs struct {
	filters map[string]filterValue // by parameter name
	limit   int                    // 0: the tool's default
	order   *OrderChoice           // nil: the tool's default order
	columns []string               // nil: all
	cursor  string
}

// filterValue is one validated filter argument.
type filterValue struct {
	param *Param
	text  string   // scalar kinds
	list  []string // ParamIn
}

// argError is a mistake in the arguments, phrased for the model.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func argErrorf(format string, args ...any) error { return &argError{fmt.Sprintf(format, args...)} }

// parseArgs decodes and validates raw arguments against a table or entity
// tool. relCols are the relation's column names, to tell "no such
// parameter" from "that column has no index". The object is read by
// scanObject; what it does not take (malformed or unusual input) is
// decoded by encoding/json, which also words the error.
func parseArgs(spec *ToolSpec, raw json.RawMessage, maxValue int) (*callArgs, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return validatePairs(spec, nil, maxValue)
	}
	var buf [8]argPair
	pairs, ok := scanObject(raw, buf[:0], nil)
	if !ok {
		obj, err := decodeObject(raw)
		if err != nil {
			return nil, err
		}
		return validateArgs(spec, obj, maxValue)
	}
	return validatePairs(spec, lastByName(pairs), maxValue)
}

// lastByName sorts pairs by name and keeps the last of each name, as
// decoding into a map does.
func lastByName(pairs []argPair) []argPair {
	slices.SortStableFunc(pairs, func(a, b argPair) int { return strings.Compare(a.name, b.name) })
	out := pairs[:0]
	for i, p := range pairs {
		if i+1 < len(pairs) && pairs[i+1].name == p.name {
			continue
		}
		out = append(out, p)
	}
	return out
}

// decodeObject reads a JSON object keeping numbers exact.
func decodeObject(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, argErrorf("arguments must be a JSON object: %v", err)
	}
	return obj, nil
}

// validateArgs validates decoded arguments.
func validateArgs(spec *ToolSpec, obj map[string]any, maxValue int) (*callArgs, error) {
	pairs := make([]argPair, 0, len(obj))
	for _, name := range sortedKeys(obj) {
		pairs = append(pairs, argPair{name, obj[name]})
	}
	return validatePairs(spec, pairs, maxValue)
}

// validatePairs validates arguments sorted by name, each name once: the
// first mistake in name order is the one reported.
func validatePairs(spec *ToolSpec, pairs []argPair, maxValue int) (*callArgs, error) {
	a := &callArgs{filters: map[string]filterValue{}}
	for _, pr := range pairs {
		p, ok := spec.Param(pr.name)
		if !ok {
			return nil, unknownParam(spec, pr.name)
		}
		if err := a.set(spec, p, pr.value, maxValue); err != nil {
			return nil, err
		}
	}
	for _, p := range spec.Params {
		if _, given := a.filters[p.Name]; p.Required && !given && p.Deprecation == nil {
			return nil, argErrorf("%s is required: %s Call again with %s set.", p.Name, p.Description, p.Name)
		}
	}
	return a, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (a *callArgs) set(spec *ToolSpec, p *Param, v any, maxValue int) error {
	if v == nil {
		return argErrorf("%s is null: leave the parameter out instead of passing null.", p.Name)
	}
	if d := p.Deprecation; d != nil && d.Removed {
		return argErrorf("%s", d.Message)
	}
	switch p.Kind {
	case ParamLimit:
		n, err := intArg(p.Name, v, 1, 0)
		if err != nil {
			return err
		}
		a.limit = n
	case ParamOrderBy:
		s, ok := v.(string)
		// A bare column orders ascending, as in SQL.
		i := slices.IndexFunc(p.Order, func(o OrderChoice) bool { return ok && (o.Value == s || !o.Desc && o.Column == s) })
		if i < 0 {
			return argErrorf("order_by must be a column, optionally followed by asc or desc: one of %s (only indexed columns can order results).", orderValues(p.Order))
		}
		a.order = &p.Order[i]
	case ParamColumns:
		cols, err := columnsArg(spec, v)
		if err != nil {
			return err
		}
		a.columns = cols
	case ParamCursor:
		s, ok := v.(string)
		if !ok || s == "" {
			return argErrorf("cursor must be the next_cursor string of a previous result.")
		}
		a.cursor = s
	case ParamIn:
		list, err := listArg(p, v, maxValue)
		if err != nil {
			return err
		}
		a.filters[p.Name] = filterValue{param: p, list: list}
	default:
		if !p.Kind.IsFilter() {
			return unknownParam(spec, p.Name)
		}
		s, err := scalarArg(p.Name, p.Schema, p.Type.Name, v, maxValue)
		if err != nil {
			return err
		}
		a.filters[p.Name] = filterValue{param: p, text: s}
	}
	return nil
}

// unknownParam explains what the tool accepts, and says so plainly when
// the name is a real column that simply has no index behind it.
func unknownParam(spec *ToolSpec, name string) error {
	filters := filterNames(spec)
	col, _, _ := ParseFilterName(name, func(n string) bool {
		return slices.ContainsFunc(spec.Columns, func(c ColumnSpec) bool { return c.Name == n })
	})
	for _, c := range spec.Columns {
		if c.Name == name || c.Name == col {
			return argErrorf("column %s cannot be filtered: no index makes that filter cheap, so %s does not offer it. "+
				"Filterable parameters: %s. Filter on one of those and read %s from the returned rows.", c.Name, spec.Name, filters, c.Name)
		}
	}
	return argErrorf("%s has no parameter %q. Filterable parameters: %s; also limit, order_by, columns%s.",
		spec.Name, name, filters, cursorNote(spec))
}

func cursorNote(spec *ToolSpec) string {
	if spec.PrimaryKey != nil {
		return ", cursor"
	}
	return ""
}

func filterNames(spec *ToolSpec) string {
	var names []string
	for _, p := range spec.Params {
		if p.Kind.IsFilter() && (p.Deprecation == nil || !p.Deprecation.Removed) {
			names = append(names, p.Name)
		}
	}
	return listOr(names, "none")
}

func orderValues(o []OrderChoice) string {
	vals := make([]string, len(o))
	for i, c := range o {
		vals[i] = c.Value
	}
	return listOr(vals, "(none: this tool has no ordering)")
}

// listOr is how an error text lists names: joined by ", ", or none when
// there are none.
func listOr(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}

func intArg(name string, v any, lo, hi int64) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, argErrorf("%s must be an integer, e.g. 50.", name)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, argErrorf("%s must be an integer, e.g. 50.", name)
	}
	if i < lo || hi > 0 && i > hi {
		return 0, argErrorf("%s must be at least %d.", name, lo)
	}
	return int(min(i, 1<<31)), nil
}

func columnsArg(spec *ToolSpec, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, argErrorf("columns must be a non-empty array of column names, e.g. [%q].", spec.Columns[0].Name)
	}
	var out []string
	for _, item := range list {
		s, ok := item.(string)
		if !ok || !slices.ContainsFunc(spec.Columns, func(c ColumnSpec) bool { return c.Name == s }) {
			return nil, argErrorf("columns: %v is not a column of %s. Columns: %s.", item, spec.Name, columnNames(spec))
		}
		if slices.Contains(out, s) {
			return nil, argErrorf("columns: %s is listed twice.", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func columnNames(spec *ToolSpec) string {
	names := make([]string, len(spec.Columns))
	for i, c := range spec.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func listArg(p *Param, v any, maxValue int) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, argErrorf("%s must be an array of values, e.g. [%s].", p.Name, example(p.Schema.Items, p.Type.Name))
	}
	if len(list) == 0 {
		return nil, argErrorf("%s must hold at least one value.", p.Name)
	}
	if m := p.Schema.MaxItems; m != nil && len(list) > *m {
		return nil, argErrorf("%s holds %d values; at most %d are accepted per call. Split the list over several calls.", p.Name, len(list), *m)
	}
	out := make([]string, len(list))
	for i, item := range list {
		s, err := scalarArg(fmt.Sprintf("%s[%d]", p.Name, i), p.Schema.Items, p.Type.Name, item, maxValue)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// scalarArg checks one value against its schema and returns its
// PostgreSQL text form.
func scalarArg(name string, s *Schema, pgType string, v any, maxValue int) (string, error) {
	if v == nil {
		return "", argErrorf("%s is null: leave the parameter out instead of passing null.", name)
	}
	want := schemaTypeName(s)
	bad := func() error {
		return argErrorf("%s must be %s, e.g. %s.", name, describeType(s, pgType), example(s, pgType))
	}
	switch want {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return "", bad()
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return "", bad()
		}
		if s.Minimum != nil && i < *s.Minimum || s.Maximum != nil && i > *s.Maximum {
			return "", argErrorf("%s is out of range for %s.", name, pgType)
		}
		return strconv.FormatInt(i, 10), nil
	case "number":
		n, ok := v.(json.Number)
		if !ok {
			return "", bad()
		}
		if _, err := n.Float64(); err != nil {
			return "", bad()
		}
		return n.String(), nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return "", bad()
		}
		return strconv.FormatBool(b), nil
	case "string":
		str, ok := v.(string)
		if !ok {
			return "", bad()
		}
		return stringArg(name, s, pgType, str, maxValue, bad)
	}
	return "", bad()
}

func stringArg(name string, s *Schema, pgType, v string, maxValue int, bad func() error) (string, error) {
	if maxValue <= 0 {
		maxValue = DefaultMaxValueBytes
	}
	switch {
	case len(v) > maxValue:
		return "", argErrorf("%s is %d bytes long; values are limited to %d bytes.", name, len(v), maxValue)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return "", argErrorf("%s must be valid UTF-8 text without NUL characters.", name)
	case s.MinLength != nil && utf8.RuneCountInString(v) < *s.MinLength:
		return "", argErrorf("%s must not be empty.", name)
	case s.MaxLength != nil && utf8.RuneCountInString(v) > *s.MaxLength:
		return "", argErrorf("%s is longer than the column allows (%d characters); no row can match it.", name, *s.MaxLength)
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, any(v)) {
		return "", argErrorf("%s must be one of: %s.", name, enumList(s.Enum))
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil || !re.MatchString(v) {
			return "", bad()
		}
	}
	if !formatOK(s.Format, pgType, v) {
		return "", bad()
	}
	return v, nil
}

func schemaTypeName(s *Schema) string {
	if s == nil {
		return ""
	}
	switch t := s.Type.(type) {
	case string:
		return t
	case []string:
		if len(t) > 0 {
			return t[0]
		}
	}
	return ""
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// formatOK checks the formats whose mistakes are common and cheap to
// describe; the server checks the rest and a failure there is reported the
// same way.
func formatOK(format, pgType, v string) bool {
	switch {
	case format == "uuid":
		return uuidRE.MatchString(v)
	case format == "date":
		_, err := time.Parse(time.DateOnly, v)
		return err == nil
	case format == "date-time":
		return parsesAs(v, time.RFC3339, time.DateOnly, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00")
	case pgType == "timestamp":
		return parsesAs(v, time.DateOnly, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04")
	}
	return true
}

func parsesAs(v string, layouts ...string) bool {
	for _, l := range layouts {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}

// describeType names the expected JSON value in words.
func describeType(s *Schema, pgType string) string {
	t := schemaTypeName(s)
	switch {
	case len(s.Enum) > 0:
		return "one of " + enumList(s.Enum)
	case s.Format == "date-time":
		return "a timestamp with time zone in RFC 3339 form"
	case s.Format == "date":
		return "a date (YYYY-MM-DD)"
	case s.Format == "uuid":
		return "a UUID string"
	case pgType == "numeric":
		return "a decimal number written as a string"
	case t == "integer":
		return "an integer (" + pgType + ")"
	case t == "number":
		return "a number"
	case t == "boolean":
		return "true or false"
	case t == "array":
		return "an array"
	}
	return "a string (" + pgType + ")"
}

// example gives a value of the right shape for error messages.
func example(s *Schema, pgType string) string {
	if s == nil {
		return `"..."`
	}
	switch {
	case len(s.Enum) > 0:
		b, _ := json.Marshal(s.Enum[0])
		return string(b)
	case s.Format == "date-time":
		return `"2024-05-31T14:30:00Z"`
	case s.Format == "date":
		return `"2024-05-31"`
	case s.Format == "uuid":
		return `"123e4567-e89b-12d3-a456-426614174000"`
	case pgType == "numeric":
		return `"19.99"`
	case pgType == "timestamp":
		return `"2024-05-31 14:30:00"`
	}
	switch schemaTypeName(s) {
	case "integer":
		return "42"
	case "number":
		return "3.5"
	case "boolean":
		return "true"
	}
	return `"text"`
}
