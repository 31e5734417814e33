package introspect

import (
	"fmt"
	"strings"
)

// compareCatalog lists what changed in the parts of the catalog the
// policy judges by besides the relations' columns: functions (volatility,
// kind), relation classes (a table becoming an inheritance child of a
// table with row-level security keeps its columns, an index or sequence
// is no relation), types, implicit calls and extensions. Without these a
// reload that changed only them would report nothing, and the engine
// would go on judging with the old catalog. One line per part, naming a
// few of the objects.
func compareCatalog(old, cur *Snapshot) []string {
	if old == nil {
		return nil
	}
	var out []string
	add := func(what, changes string) {
		if changes != "" {
			out = append(out, what+": "+changes)
		}
	}
	add("functions", catalogChanges(keyedDiff(withoutOIDs(old.Functions), withoutOIDs(cur.Functions), functionKey)))
	add("relation classes", catalogChanges(keyedDiff(old.Classes, cur.Classes, func(c Class) string { return QualifiedName{Schema: c.Schema, Name: c.Name}.String() })))
	add("types", catalogChanges(keyedDiff(old.Types, cur.Types, func(t NamedType) string { return QualifiedName{Schema: t.Schema, Name: t.Name}.String() })))
	add("implicit calls", catalogChanges(keyedDiff(old.ImplicitCalls, cur.ImplicitCalls, implicitCallKey)))
	add("extensions", catalogChanges(keyedDiff(old.Extensions, cur.Extensions, func(e string) string { return e })))
	return out
}

func functionKey(f Function) string { return f.Schema + "." + f.Name + "(" + f.Args + ")" }

func implicitCallKey(c ImplicitCall) string {
	return string(c.Via) + " " + c.Schema + "." + c.Name + " → " + c.Function.String()
}

// withoutOIDs is fs with their OIDs left out, for keyedDiff: a function
// dropped and created again alike is judged alike.
func withoutOIDs(fs []Function) []Function {
	out := make([]Function, len(fs))
	for i, f := range fs {
		f.OID = 0
		out[i] = f
	}
	return out
}

// keyedDiff matches two lists by key and says which keys were added,
// removed, or are in both with another value.
func keyedDiff[T comparable](old, cur []T, key func(T) string) (added, removed, changed []string) {
	was := make(map[string]T, len(old))
	for _, o := range old {
		was[key(o)] = o
	}
	for _, c := range cur {
		k := key(c)
		o, ok := was[k]
		delete(was, k)
		switch {
		case !ok:
			added = append(added, k)
		case o != c:
			changed = append(changed, k)
		}
	}
	for _, o := range old {
		if _, gone := was[key(o)]; gone {
			removed = append(removed, key(o))
		}
	}
	return added, removed, changed
}

// catalogChanges is e.g. "1 changed (public.f())", "" when nothing
// changed.
func catalogChanges(added, removed, changed []string) string {
	var parts []string
	for _, p := range []struct {
		verb  string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(p.names) == 0 {
			continue
		}
		shown := p.names[:min(len(p.names), 3)]
		more := ""
		if len(p.names) > len(shown) {
			more = ", ..."
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s%s)", len(p.names), p.verb, strings.Join(shown, ", "), more))
	}
	return strings.Join(parts, ", ")
}
