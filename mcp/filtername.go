package mcp

// The filter-name grammar: a filter parameter is named after its column
// plus the suffix of its kind, none for equality (id, id_in, id_gte,
// id_lte, body_search). The generator names parameters by it and
// whoever reads a parameter name back (argument errors, pgmoat doctor)
// parses it with ParseFilterName, so the grammar lives here alone. A
// name the generator had to shorten or disambiguate (a hash suffix)
// does not parse back; it is reported as such by the generator's
// warnings.

// FilterKind is the family of a filter, by what an index must serve for
// it to be cheap.
type FilterKind string

// Filter families IndexServes tells apart.
const (
	FilterEquality FilterKind = "equality" // column, column_in
	FilterRange    FilterKind = "range"    // column_gte, column_lte
	FilterSearch   FilterKind = "search"   // column_search
)

// filterSuffixes are the suffixed kinds, in the order names are tried.
var filterSuffixes = [...]struct {
	kind   ParamKind
	suffix string
}{
	{ParamIn, "_in"},
	{ParamGte, "_gte"},
	{ParamLte, "_lte"},
	{ParamSearch, "_search"},
}

// Suffix is what a filter of kind k adds to its column's name; "" for
// equality and for parameters that are not filters.
func (k ParamKind) Suffix() string {
	for _, s := range filterSuffixes {
		if s.kind == k {
			return s.suffix
		}
	}
	return ""
}

// Family is the filter family of k; "" when k is not a filter.
func (k ParamKind) Family() FilterKind {
	switch k {
	case ParamEq, ParamIn:
		return FilterEquality
	case ParamGte, ParamLte:
		return FilterRange
	case ParamSearch:
		return FilterSearch
	}
	return ""
}

// ParseFilterName reads a filter parameter name back into its column and
// kind; isColumn says whether a name is a column of the relation. A name
// that is itself a column is its equality filter (a column may be called
// price_in).
func ParseFilterName(name string, isColumn func(string) bool) (column string, kind ParamKind, ok bool) {
	if isColumn(name) {
		return name, ParamEq, true
	}
	for _, s := range filterSuffixes {
		if base := name[:max(len(name)-len(s.suffix), 0)]; base+s.suffix == name && base != "" && isColumn(base) {
			return base, s.kind, true
		}
	}
	return "", "", false
}
