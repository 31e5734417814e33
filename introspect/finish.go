package introspect

import "fmt"

// finish links types, resolves column types through domains and records
// each foreign key on both of its ends.
func (b *builder) finish() (*Snapshot, error) {
	if err := b.linkTypes(); err != nil {
		return nil, err
	}
	for col, oid := range b.colType {
		if err := b.resolveColumn(col, oid); err != nil {
			return nil, err
		}
	}
	return Assemble(b.snap), nil
}

func (b *builder) linkTypes() error {
	for _, raw := range b.types {
		switch raw.t.Kind {
		case TypeArray:
			elem, ok := b.types[raw.elem]
			if !ok {
				return fmt.Errorf("%w: element type %d of %s is missing", ErrInconsistent, raw.elem, raw.t.Name)
			}
			raw.t.Elem = elem.t
		case TypeDomain:
			base, ok := b.types[raw.base]
			if !ok {
				return fmt.Errorf("%w: base type %d of domain %s is missing", ErrInconsistent, raw.base, raw.t.Name)
			}
			raw.t.Base = base.t
		}
	}
	return nil
}

// resolveColumn sets the column's type to its domain's base type, keeping
// the domain, and carries a domain's NOT NULL and type modifier over.
func (b *builder) resolveColumn(c *Column, oid uint32) error {
	raw, ok := b.types[oid]
	if !ok {
		return fmt.Errorf("%w: type %d of column %s is missing", ErrInconsistent, oid, c.Name)
	}
	t := raw.t
	if t.Kind == TypeDomain {
		c.Domain = t
	}
	// Walk the domain chain: the outermost NOT NULL or typmod wins.
	for t.Kind == TypeDomain && t.Base != nil {
		c.NotNull = c.NotNull || t.NotNull
		if c.TypMod < 0 {
			c.TypMod = t.BaseTypMod
		}
		t = t.Base
	}
	c.Type = t
	return nil
}

// Assemble completes a snapshot built by hand rather than by Load (tests,
// fixtures decoded from JSON): it builds the lookup indexes and fills every
// relation's ReferencedBy from the ForeignKeys of the others. It returns s.
func Assemble(s *Snapshot) *Snapshot {
	s.indexFunctions()
	s.indexImplicitCalls()
	s.byName = make(map[QualifiedName]*Relation, len(s.Relations))
	s.types = make(map[uint32]NamedType, len(s.Types))
	for _, t := range s.Types {
		s.types[t.OID] = t
	}
	s.classes = make(map[QualifiedName]Class, len(s.Classes))
	for _, c := range s.Classes {
		s.classes[QualifiedName{Schema: c.Schema, Name: c.Name}] = c
	}
	// A snapshot built by hand may list relations only: each is a
	// class of its own kind.
	for _, r := range s.Relations {
		if _, ok := s.classes[r.QualifiedName()]; !ok {
			s.classes[r.QualifiedName()] = Class{Schema: r.Schema, Name: r.Name, Kind: r.Kind}
		}
	}
	for _, r := range s.Relations {
		s.byName[r.QualifiedName()] = r
		r.ReferencedBy = nil
		r.byName = make(map[string]*Column, len(r.Columns))
		for _, c := range r.Columns {
			r.byName[c.Name] = c
		}
	}
	for _, r := range s.Relations {
		for _, fk := range r.ForeignKeys {
			if to, ok := s.byName[fk.To]; ok {
				to.ReferencedBy = append(to.ReferencedBy, fk)
			}
		}
	}
	return s
}
