package introspect

import "testing"

// TestRelKindString pins the words of every relation kind, which messages
// and listings show, and the fallback for a code this version does not know.
func TestRelKindString(t *testing.T) {
	for _, c := range []struct {
		k    RelKind
		want string
	}{
		{KindTable, "table"}, {KindView, "view"}, {KindMaterializedView, "materialized view"},
		{KindPartitionedTable, "partitioned table"}, {KindForeignTable, "foreign table"},
		{KindSequence, "sequence"}, {KindIndex, "index"}, {KindPartitionedIndex, "partitioned index"},
		{KindCompositeType, "composite type"}, {KindTOAST, "TOAST table"}, {"x", "relation kind x"},
	} {
		if got := c.k.String(); got != c.want {
			t.Errorf("RelKind(%q).String() = %q, want %q", string(c.k), got, c.want)
		}
	}
}
