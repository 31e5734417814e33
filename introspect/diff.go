package introspect

import (
	"fmt"
	"reflect"
	"slices"
)

// Diff is what changed between two snapshots, relation by relation.
type Diff struct {
	Added   []QualifiedName
	Removed []QualifiedName
	Changed []RelationChange
	// Readable lists schemas whose USAGE for the role changed, as
	// "schema s readable" or "schema s no longer readable".
	Readable []string
	// Catalog lists, one line per part, what changed in the functions,
	// relation classes, types, implicit calls and extensions the policy
	// judges by (compareCatalog).
	Catalog []string
}

// RelationChange is what changed in one relation present in both snapshots.
type RelationChange struct {
	Relation       QualifiedName
	Changes        []string // relation-level: comment, kind, RLS, keys
	AddedColumns   []string
	RemovedColumns []string
	ChangedColumns []ColumnChange
	AddedIndexes   []string
	RemovedIndexes []string
}

// ColumnChange names what changed in one column.
type ColumnChange struct {
	Column  string
	Changes []string // e.g. "type integer → bigint", "comment"
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Changed)+len(d.Readable)+len(d.Catalog) == 0
}

// Compare diffs two snapshots; old may be nil (everything is added).
func Compare(old, cur *Snapshot) Diff {
	var d Diff
	oldRels := map[QualifiedName]*Relation{}
	if old != nil {
		for _, r := range old.Relations {
			oldRels[r.QualifiedName()] = r
		}
	}
	for _, r := range cur.Relations {
		q := r.QualifiedName()
		prev, ok := oldRels[q]
		delete(oldRels, q)
		if !ok {
			d.Added = append(d.Added, q)
			continue
		}
		if ch := compareRelation(prev, r); ch != nil {
			d.Changed = append(d.Changed, *ch)
		}
	}
	if old != nil {
		for _, r := range old.Relations {
			if _, gone := oldRels[r.QualifiedName()]; gone {
				d.Removed = append(d.Removed, r.QualifiedName())
			}
		}
	}
	d.Readable = compareUsable(old, cur)
	d.Catalog = compareCatalog(old, cur)
	return d
}

// compareUsable lists the schemas whose USAGE for the role changed: the
// online policy's readable schemas follow it.
func compareUsable(old, cur *Snapshot) []string {
	was := map[string]bool{}
	if old != nil {
		was = old.UsableSchemas()
	}
	now := cur.UsableSchemas()
	var out []string
	for _, sc := range cur.Schemas {
		if now[sc.Name] && !was[sc.Name] {
			out = append(out, fmt.Sprintf("schema %s readable", sc.Name))
		}
	}
	if old != nil {
		for _, sc := range old.Schemas {
			if was[sc.Name] && !now[sc.Name] {
				out = append(out, fmt.Sprintf("schema %s no longer readable", sc.Name))
			}
		}
	}
	return out
}

func compareRelation(a, b *Relation) *RelationChange {
	ch := &RelationChange{Relation: b.QualifiedName()}
	note := func(cond bool, what string) {
		if cond {
			ch.Changes = append(ch.Changes, what)
		}
	}
	note(a.Comment != b.Comment, "comment")
	note(a.Kind != b.Kind, fmt.Sprintf("kind %s → %s", a.Kind, b.Kind))
	note(a.RLSEnabled != b.RLSEnabled || a.RLSForced != b.RLSForced, "row-level security")
	note(!slices.Equal(a.PrimaryKey, b.PrimaryKey), "primary key")
	note(!reflect.DeepEqual(a.ForeignKeys, b.ForeignKeys), "foreign keys")
	note(a.Selectable != b.Selectable, "SELECT privilege")
	for _, c := range b.Columns {
		prev, ok := a.Column(c.Name)
		if !ok {
			ch.AddedColumns = append(ch.AddedColumns, c.Name)
		} else if cc := compareColumn(prev, c); len(cc) > 0 {
			ch.ChangedColumns = append(ch.ChangedColumns, ColumnChange{Column: c.Name, Changes: cc})
		}
	}
	for _, c := range a.Columns {
		if _, ok := b.Column(c.Name); !ok {
			ch.RemovedColumns = append(ch.RemovedColumns, c.Name)
		}
	}
	ch.AddedIndexes, ch.RemovedIndexes = compareIndexes(a.Indexes, b.Indexes)
	if len(ch.Changes)+len(ch.AddedColumns)+len(ch.RemovedColumns)+len(ch.ChangedColumns)+
		len(ch.AddedIndexes)+len(ch.RemovedIndexes) == 0 {
		return nil
	}
	return ch
}

func compareColumn(a, b *Column) []string {
	var out []string
	if a.DeclaredType != b.DeclaredType {
		out = append(out, fmt.Sprintf("type %s → %s", a.DeclaredType, b.DeclaredType))
	} else if !slices.Equal(a.Type.Labels, b.Type.Labels) {
		out = append(out, "enum labels")
	}
	if a.NotNull != b.NotNull {
		out = append(out, "nullability")
	}
	if a.Comment != b.Comment {
		out = append(out, "comment")
	}
	if a.Default != b.Default {
		out = append(out, "default")
	}
	if a.Selectable != b.Selectable {
		out = append(out, "SELECT privilege")
	}
	return out
}

// compareIndexes matches indexes by name and definition: a changed
// definition counts as removed and added.
func compareIndexes(a, b []*Index) (added, removed []string) {
	same := func(x, y *Index) bool { return reflect.DeepEqual(x, y) }
	for _, ix := range b {
		if !slices.ContainsFunc(a, func(o *Index) bool { return same(o, ix) }) {
			added = append(added, ix.Name)
		}
	}
	for _, ix := range a {
		if !slices.ContainsFunc(b, func(o *Index) bool { return same(o, ix) }) {
			removed = append(removed, ix.Name)
		}
	}
	return added, removed
}

// Lines renders the diff as one log line per change.
func (d Diff) Lines() []string {
	out := append([]string(nil), d.Readable...)
	for _, q := range d.Added {
		out = append(out, fmt.Sprintf("relation %s added", q))
	}
	for _, q := range d.Removed {
		out = append(out, fmt.Sprintf("relation %s removed", q))
	}
	for _, ch := range d.Changed {
		for _, c := range ch.Changes {
			out = append(out, fmt.Sprintf("relation %s: %s changed", ch.Relation, c))
		}
		for _, c := range ch.AddedColumns {
			out = append(out, fmt.Sprintf("column %s.%s added", ch.Relation, c))
		}
		for _, c := range ch.RemovedColumns {
			out = append(out, fmt.Sprintf("column %s.%s removed", ch.Relation, c))
		}
		for _, cc := range ch.ChangedColumns {
			for _, c := range cc.Changes {
				out = append(out, fmt.Sprintf("column %s.%s: %s", ch.Relation, cc.Column, c))
			}
		}
		for _, ix := range ch.AddedIndexes {
			out = append(out, fmt.Sprintf("index %s on %s added", ix, ch.Relation))
		}
		for _, ix := range ch.RemovedIndexes {
			out = append(out, fmt.Sprintf("index %s on %s removed", ix, ch.Relation))
		}
	}
	return append(out, d.Catalog...)
}
