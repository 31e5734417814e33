package policy

// RelationName is a relation as a verdict reports it: schema and name
// apart, so that "a.b"."c" and "a"."b.c" stay two relations. Compare
// names as values, never through their text.
type RelationName struct {
	Schema, Name string
}

// String is schema.name, the spelling of allow and deny lists and of
// pgmoat check's output; it is for display only (it is ambiguous when a
// part holds a dot).
func (n RelationName) String() string { return n.Schema + "." + n.Name }

// RelationStrings spells names with String, for output.
func RelationStrings(names []RelationName) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n.String()
	}
	return out
}

// FunctionName is a function as a verdict and a CallCatalog report it:
// schema and name apart, like RelationName. Schema is empty only for an
// unqualified function the catalog does not know that a profile allows
// by name.
type FunctionName struct {
	Schema, Name string
}

// String is the name quoted as SQL would write it ("My Schema".f,
// pg_catalog.lower), the spelling of pgmoat check's output and of denial
// messages; it is unambiguous, but compare names as values.
func (n FunctionName) String() string { return displayFunc(n.Schema, n.Name) }

// FunctionStrings spells names with String, for output.
func FunctionStrings(names []FunctionName) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n.String()
	}
	return out
}
