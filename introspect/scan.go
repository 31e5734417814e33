package introspect

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// builder accumulates catalog rows into a Snapshot.
type builder struct {
	snap    *Snapshot
	rels    map[uint32]*Relation
	types   map[uint32]*rawType
	colType map[*Column]uint32 // the declared type oid, resolved in finish
}

// rawType is a pg_type row before its references are linked.
type rawType struct {
	t    *Type
	elem uint32
	base uint32
}

func newBuilder() *builder {
	return &builder{
		snap:    &Snapshot{},
		rels:    map[uint32]*Relation{},
		types:   map[uint32]*rawType{},
		colType: map[*Column]uint32{},
	}
}

func (b *builder) steps() []step {
	return []step{
		{"server information", qInfo, b.scanInfo},
		{"schemas", qSchemas, b.scanSchema},
		{"relations", qRelations, b.scanRelation},
		{"classes", qClasses, b.scanClass},
		{"columns", qColumns, b.scanColumn},
		{"types", qTypes, b.scanType},
		{"indexes", qIndexes, b.scanIndexKey},
		{"constraints", qConstraints, b.scanConstraint},
		{"functions", qFunctions, b.scanFunction},
		{"named types", qNamedTypes, b.scanNamedType},
		{"implicit calls", qImplicitCalls, b.scanImplicitCall},
	}
}

func (b *builder) scanInfo(rows pgx.Rows) error {
	s := b.snap
	return rows.Scan(&s.Database, &s.User, &s.ServerVersion, &s.Encoding, &s.CType, &s.TakenAt, &s.Extensions)
}

func (b *builder) scanSchema(rows pgx.Rows) error {
	var sc Schema
	if err := rows.Scan(&sc.Name, &sc.Comment, &sc.Usable); err != nil {
		return err
	}
	b.snap.Schemas = append(b.snap.Schemas, sc)
	return nil
}

func (b *builder) scanRelation(rows pgx.Rows) error {
	r := &Relation{byName: map[string]*Column{}}
	var kind string
	if err := rows.Scan(&r.OID, &r.Schema, &r.Name, &kind, &r.Comment,
		&r.RLSEnabled, &r.RLSForced, &r.EstimatedRows, &r.Selectable); err != nil {
		return err
	}
	r.Kind = RelKind(kind)
	b.rels[r.OID] = r
	b.snap.Relations = append(b.snap.Relations, r)
	return nil
}

func (b *builder) relation(oid uint32) (*Relation, error) {
	r, ok := b.rels[oid]
	if !ok {
		return nil, fmt.Errorf("%w: relation %d is not in the relation list", ErrInconsistent, oid)
	}
	return r, nil
}

func (b *builder) scanClass(rows pgx.Rows) error {
	var c Class
	var kind string
	if err := rows.Scan(&c.Schema, &c.Name, &kind, &c.Partition, &c.Extension, &c.RLSChild, &c.RowSecurity); err != nil {
		return err
	}
	c.Kind = RelKind(kind)
	b.snap.Classes = append(b.snap.Classes, c)
	return nil
}

func (b *builder) scanNamedType(rows pgx.Rows) error {
	var t NamedType
	var kind string
	if err := rows.Scan(&t.OID, &t.Schema, &t.Name, &kind, &t.Base); err != nil {
		return err
	}
	t.Kind = TypeKind(kind)
	b.snap.Types = append(b.snap.Types, t)
	return nil
}

func (b *builder) scanColumn(rows pgx.Rows) error {
	var relOID, typOID uint32
	c := &Column{}
	if err := rows.Scan(&relOID, &c.Num, &c.Name, &typOID, &c.TypMod, &c.DeclaredType,
		&c.NotNull, &c.Default, &c.Generated, &c.Identity, &c.Comment, &c.Selectable); err != nil {
		return err
	}
	r, err := b.relation(relOID)
	if err != nil {
		return err
	}
	r.Columns = append(r.Columns, c)
	r.byName[c.Name] = c
	b.colType[c] = typOID
	return nil
}

func (b *builder) scanType(rows pgx.Rows) error {
	t := &Type{}
	raw := &rawType{t: t}
	var kind string
	var typlen int16
	if err := rows.Scan(&t.OID, &t.Schema, &t.Name, &kind, &t.Category,
		&raw.elem, &typlen, &raw.base, &t.BaseTypMod, &t.NotNull, &t.Comment, &t.Labels); err != nil {
		return err
	}
	t.Kind = TypeKind(kind)
	if t.Kind == TypeBase && raw.elem != 0 && typlen == -1 {
		t.Kind = TypeArray
	}
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	b.types[t.OID] = raw
	return nil
}

func (b *builder) scanIndexKey(rows pgx.Rows) error {
	var relOID uint32
	var ix Index
	var k IndexKey
	if err := rows.Scan(&relOID, &ix.Name, &ix.Method, &ix.Unique, &ix.Primary, &ix.Valid,
		&ix.Predicate, &k.Column, &k.Expression, &k.OpClass, &k.Desc); err != nil {
		return err
	}
	r, err := b.relation(relOID)
	if err != nil {
		return err
	}
	// Rows arrive grouped by index and ordered by key position.
	if n := len(r.Indexes); n == 0 || r.Indexes[n-1].Name != ix.Name {
		r.Indexes = append(r.Indexes, &ix)
	}
	last := r.Indexes[len(r.Indexes)-1]
	last.Keys = append(last.Keys, k)
	return nil
}

func (b *builder) scanConstraint(rows pgx.Rows) error {
	var relOID, toOID uint32
	var name, kind string
	var keys, refKeys []int16
	var to QualifiedName
	if err := rows.Scan(&relOID, &name, &kind, &keys, &toOID, &to.Schema, &to.Name, &refKeys); err != nil {
		return err
	}
	r, err := b.relation(relOID)
	if err != nil {
		return err
	}
	cols := columnNames(r, keys)
	switch kind {
	case "p":
		r.PrimaryKey = cols
	case "u":
		r.Unique = append(r.Unique, cols)
	case "f":
		fk := ForeignKey{Name: name, From: r.QualifiedName(), FromColumns: cols, To: to}
		if target, ok := b.rels[toOID]; ok {
			fk.ToColumns = columnNames(target, refKeys)
		}
		r.ForeignKeys = append(r.ForeignKeys, fk)
	}
	return nil
}

// columnNames names attnums from the relation's columns, which the columns
// query has already delivered.
func columnNames(r *Relation, nums []int16) []string {
	names := make([]string, 0, len(nums))
	for _, n := range nums {
		for _, c := range r.Columns {
			if c.Num == n {
				names = append(names, c.Name)
				break
			}
		}
	}
	return names
}

func (b *builder) scanFunction(rows pgx.Rows) error {
	var f Function
	var vol string
	if err := rows.Scan(&f.OID, &f.Schema, &f.Name, &f.Args, &f.Kind, &vol,
		&f.SecurityDefiner, &f.ReturnsSet); err != nil {
		return err
	}
	f.Volatility = Volatile // a code this version does not know counts as the worst
	if len(vol) == 1 {
		f.Volatility = Volatility(vol[0])
	}
	b.snap.Functions = append(b.snap.Functions, f)
	return nil
}

func (b *builder) scanImplicitCall(rows pgx.Rows) error {
	var c ImplicitCall
	var via string
	if err := rows.Scan(&via, &c.Schema, &c.Name, &c.Function.Schema, &c.Function.Name); err != nil {
		return err
	}
	c.Via = ImplicitVia(via)
	b.snap.ImplicitCalls = append(b.snap.ImplicitCalls, c)
	return nil
}
