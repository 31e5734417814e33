package introspect

import (
	"reflect"
	"testing"
)

// A function dropped and created again alike (a new OID, nothing else)
// is no change; another volatility is one.
func TestCompareCatalogFunctions(t *testing.T) {
	f := Function{OID: 100, Schema: "public", Name: "f", Args: "integer", Kind: "f", Volatility: Stable}
	recreated, volatile := f, f
	recreated.OID = 200
	volatile.Volatility = Volatile
	for _, tc := range []struct {
		name string
		cur  Function
		want []string
	}{
		{"recreated alike", recreated, nil},
		{"made volatile", volatile, []string{"functions: 1 changed (public.f(integer))"}},
	} {
		got := compareCatalog(&Snapshot{Functions: []Function{f}}, &Snapshot{Functions: []Function{tc.cur}})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
