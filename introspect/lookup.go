package introspect

// Relation finds a relation by its exact schema and name.
func (s *Snapshot) Relation(schema, name string) (*Relation, bool) {
	r, ok := s.byName[QualifiedName{Schema: schema, Name: name}]
	return r, ok
}

// Class finds the pg_class entry of any kind by its exact schema and
// name.
func (s *Snapshot) Class(schema, name string) (Class, bool) {
	c, ok := s.classes[QualifiedName{Schema: schema, Name: name}]
	return c, ok
}

// TypeByOID finds a type of Types by its OID.
func (s *Snapshot) TypeByOID(oid uint32) (NamedType, bool) {
	t, ok := s.types[oid]
	return t, ok
}

// FunctionVolatility returns the most volatile volatility among the
// overloads of schema.name, and false when no such function exists. The
// policy engine decides by name, so the worst overload is the one that
// counts.
func (s *Snapshot) FunctionVolatility(schema, name string) (Volatility, bool) {
	v, ok := s.volatility[QualifiedName{Schema: schema, Name: name}]
	if !ok {
		return Immutable, false
	}
	return v, true
}

// volatilityRank orders volatilities from least to most volatile.
func volatilityRank(v Volatility) int {
	switch v {
	case Immutable:
		return 0
	case Stable:
		return 1
	}
	return 2
}

// indexFunctions builds the volatility index: for each name, the worst
// of its overloads.
func (s *Snapshot) indexFunctions() {
	s.volatility = make(map[QualifiedName]Volatility, len(s.Functions))
	for _, f := range s.Functions {
		q := QualifiedName{Schema: f.Schema, Name: f.Name}
		if cur, ok := s.volatility[q]; !ok || volatilityRank(f.Volatility) > volatilityRank(cur) {
			s.volatility[q] = f.Volatility
		}
	}
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
