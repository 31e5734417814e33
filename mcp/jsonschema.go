package mcp

import (
	"github.com/pgmoat/pgmoat/introspect"
)

// Schema is the subset of JSON Schema (draft 2020-12) that tool signatures
// use. Field order is the order of the JSON output, so generated schemas
// are byte-for-byte stable.
type Schema struct {
	// Type is a JSON type name, or a list of them (a nullable result value
	// is ["integer", "null"]).
	Type                 any                `json:"type,omitempty"`
	Description          string             `json:"description,omitempty"`
	Format               string             `json:"format,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	ContentEncoding      string             `json:"contentEncoding,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Minimum              *int64             `json:"minimum,omitempty"`
	Maximum              *int64             `json:"maximum,omitempty"`
	MinLength            *int               `json:"minLength,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	MinItems             *int               `json:"minItems,omitempty"`
	MaxItems             *int               `json:"maxItems,omitempty"`
	UniqueItems          bool               `json:"uniqueItems,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *bool              `json:"additionalProperties,omitempty"`
	Default              any                `json:"default,omitempty"`
	Deprecated           bool               `json:"deprecated,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// typeClass groups PostgreSQL types by how values look in JSON and what
// comparisons make sense on them.
type typeClass int

const (
	classUnmapped typeClass = iota
	classInteger
	classNumeric // arbitrary precision: a string, so no digit is lost
	classFloat
	classBool
	classText
	classUUID
	classDate
	classTimestamp
	classTimestampTZ
	classTime
	classTimeTZ
	classInterval
	classJSON
	classEnum
	classArray
	classOtherString // inet, money, xml, ...: text in and out, equality only
	classBinary
	classTSVector
)

// builtinClasses maps pg_catalog type names (and citext, which lives
// wherever its extension was installed) to their class; a name it does not
// hold is classUnmapped.
var builtinClasses = byName(map[typeClass][]string{
	classInteger:     {"int2", "int4", "int8", "oid"},
	classNumeric:     {"numeric"},
	classFloat:       {"float4", "float8"},
	classBool:        {"bool"},
	classText:        {"text", "varchar", "bpchar", "name", "citext"},
	classUUID:        {"uuid"},
	classDate:        {"date"},
	classTimestamp:   {"timestamp"},
	classTimestampTZ: {"timestamptz"},
	classTime:        {"time"},
	classTimeTZ:      {"timetz"},
	classInterval:    {"interval"},
	classJSON:        {"json", "jsonb"},
	classOtherString: {"inet", "cidr", "macaddr", "macaddr8", "money", "xml", "bit", "varbit"},
	classBinary:      {"bytea"},
	classTSVector:    {"tsvector"},
})

// byName turns the type names of each class into a lookup by name. A name
// under two classes is a mistake in the table, caught at start-up.
func byName(names map[typeClass][]string) map[string]typeClass {
	out := map[string]typeClass{}
	for c, ns := range names {
		for _, n := range ns {
			if _, dup := out[n]; dup {
				panic("mcp: type " + n + " is listed under two classes")
			}
			out[n] = c
		}
	}
	return out
}

func classify(t *introspect.Type) typeClass {
	t = t.Resolved()
	if t == nil {
		return classUnmapped
	}
	switch t.Kind {
	case introspect.TypeEnum:
		return classEnum
	case introspect.TypeArray:
		if t.Elem != nil && classify(t.Elem) != classUnmapped {
			return classArray
		}
		return classUnmapped
	case introspect.TypeBase:
		if t.Schema == "pg_catalog" || t.Name == "citext" {
			return builtinClasses[t.Name]
		}
	}
	return classUnmapped
}

// equality: a value of this class can be compared with = against a
// JSON scalar the caller sends.
func (c typeClass) equality() bool {
	switch c {
	case classInteger, classNumeric, classFloat, classBool, classText, classUUID, classDate,
		classTimestamp, classTimestampTZ, classTime, classTimeTZ, classEnum, classOtherString:
		return true
	}
	return false
}

// ranged: >= and <= mean something a person would ask for.
func (c typeClass) ranged() bool {
	switch c {
	case classInteger, classNumeric, classFloat, classDate, classTimestamp, classTimestampTZ, classTime, classTimeTZ:
		return true
	}
	return false
}

// textual: a trigram index on the column serves substring search.
func (c typeClass) textual() bool { return c == classText }

// fixedSchemas are the value schemas of the classes whose schema does not
// depend on the type's name, modifier, labels or element.
var fixedSchemas = map[typeClass]Schema{
	classNumeric: {Type: "string", Pattern: `^-?[0-9]+(\.[0-9]+)?$`,
		Description: "decimal number written as a string, to keep every digit"},
	classFloat:       {Type: "number"},
	classBool:        {Type: "boolean"},
	classUUID:        {Type: "string", Format: "uuid"},
	classDate:        {Type: "string", Format: "date"},
	classTimestampTZ: {Type: "string", Format: "date-time"},
	classTimestamp:   {Type: "string", Description: "date and time without time zone, e.g. 2024-05-31 14:30:00"},
	classTimeTZ:      {Type: "string", Format: "time"},
	classTime:        {Type: "string", Description: "time of day without time zone, e.g. 14:30:00"},
	classInterval:    {Type: "string", Description: "interval, e.g. 1 day 02:00:00"},
	// A json column may hold an array, a string, a number, a boolean or
	// null as well as an object: no type, or an array in a jsonb column
	// would fail the tool's output schema.
	classJSON:        {Description: "Any JSON value."},
	classBinary:      {Type: "string", ContentEncoding: "base64", Description: "binary data, base64-encoded"},
	classTSVector:    {Type: "string", Description: "text-search document"},
	classOtherString: {Type: "string"},
}

// valueSchema is the JSON Schema of one value of the type, without
// nullability. typmod refines varchar/bpchar lengths. Each call returns a
// schema of its own: callers change it (nullable, typeOnly).
func valueSchema(t *introspect.Type, typmod int32) *Schema {
	t = t.Resolved()
	c := classify(t)
	if s, ok := fixedSchemas[c]; ok {
		return &s
	}
	switch c {
	case classInteger:
		return integerSchema(t.Name)
	case classText:
		return textSchema(t.Name, typmod)
	case classEnum:
		return enumSchema(t.Labels)
	case classArray:
		return &Schema{Type: "array", Items: valueSchema(t.Elem, -1)}
	}
	return &Schema{Type: "string", Description: "value of type " + t.Name + " in its text form"}
}

func integerSchema(name string) *Schema {
	s := &Schema{Type: "integer"}
	switch name {
	case "int2":
		s.Minimum, s.Maximum = ptr(int64(-32768)), ptr(int64(32767))
	case "int4":
		s.Minimum, s.Maximum = ptr(int64(-2147483648)), ptr(int64(2147483647))
	case "oid":
		s.Minimum, s.Maximum = ptr(int64(0)), ptr(int64(4294967295))
	}
	return s
}

func textSchema(name string, typmod int32) *Schema {
	s := &Schema{Type: "string"}
	if (name == "varchar" || name == "bpchar") && typmod > 4 {
		s.MaxLength = ptr(int(typmod - 4))
	}
	return s
}

func enumSchema(labels []string) *Schema {
	s := &Schema{Type: "string", Enum: make([]any, len(labels))}
	for i, l := range labels {
		s.Enum[i] = l
	}
	return s
}

// resultSchema is the schema of a column's value in results, as tools/list
// publishes it: typed, null allowed unless the column is NOT NULL, array
// elements always nullable (PostgreSQL arrays have no NOT NULL elements).
// The column's COMMENT is not repeated here: it is said once, in the tool
// description. An enum says its type by its labels, so "type" goes.
func resultSchema(c *introspect.Column) *Schema {
	s := typeOnly(published(valueSchema(c.Type, c.TypMod)))
	if s.Items != nil {
		nullable(s.Items)
		labelsOnly(s.Items)
	}
	if !c.NotNull {
		nullable(s)
	}
	labelsOnly(s)
	return s
}

// labelsOnly drops the type of an enum schema: its labels (and null, when
// allowed) are the whole type, and each would otherwise cost tokens in
// every tools/list.
func labelsOnly(s *Schema) {
	if len(s.Enum) > 0 {
		s.Type = nil
	}
}

func nullable(s *Schema) {
	if typ, ok := s.Type.(string); ok {
		s.Type = []string{typ, "null"}
	}
	if s.Enum != nil {
		s.Enum = append(s.Enum, nil)
	}
}

// published is the copy of a value schema tools/list carries. The bounds
// only the server can usefully check (integer ranges, string lengths, list
// sizes, the decimal pattern) are left out: they cost tokens in every
// tools/list and tell a model nothing it needs to write a call, and the
// server checks them anyway against the full schema (Param.Schema). What
// a model does need stays: the JSON type, format, enum labels and the hint
// that a decimal travels as a string.
func published(s *Schema) *Schema {
	if s == nil {
		return nil
	}
	out := *s
	out.Minimum, out.Maximum, out.MinLength, out.MaxLength = nil, nil, nil, nil
	out.MinItems, out.MaxItems, out.UniqueItems = nil, nil, false
	if out.Pattern != "" {
		out.Pattern, out.Description = "", decimalHint
	}
	if out.Type == nil && len(out.Enum) == 0 {
		out.Description = "" // any JSON value: the empty schema says so
	}
	out.Items = published(s.Items)
	return &out
}

// decimalHint replaces the decimal pattern in published schemas: the one
// thing about a numeric a model must know is that it travels as a string.
const decimalHint = "decimal"

// typeOnly drops the value hints (e.g. how a timestamp without time zone
// is written) a result schema does not need: the model reads such values,
// it does not write them. Only the decimal hint stays, as the type.
func typeOnly(s *Schema) *Schema {
	if s.Description != decimalHint {
		s.Description = ""
	}
	if s.Items != nil {
		s.Items = typeOnly(s.Items)
	}
	return s
}
