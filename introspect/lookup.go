package introspect

// Relation finds a relation by its exact schema and name.
func (s *Snapshot) Relation(schema, name string) (*Relation, bool) {
	r, ok := s.byName[QualifiedName{Schema: schema, Name: name}]
	return r, ok
}

// FunctionVolatility returns the most volatile volatility among the
// overloads of schema.name, and false when no such function exists. The
// policy engine decides by name, so the worst overload is the one that
// counts.
func (s *Snapshot) FunctionVolatility(schema, name string) (Volatility, bool) {
	rank := map[Volatility]int{Immutable: 0, Stable: 1, Volatile: 2}
	found := false
	worst := Immutable
	for _, f := range s.Functions {
		if f.Schema != schema || f.Name != name {
			continue
		}
		if !found || rank[f.Volatility] > rank[worst] {
			worst = f.Volatility
		}
		found = true
	}
	return worst, found
}

// Column finds a column by its exact name.
func (r *Relation) Column(name string) (*Column, bool) {
	c, ok := r.byName[name]
	return c, ok
}

// Index finds an index by name.
func (r *Relation) Index(name string) (*Index, bool) {
	for _, ix := range r.Indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return nil, false
}
