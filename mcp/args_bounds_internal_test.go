package mcp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestValidationKeepsTheBoundsToolsListLeavesOut: tools/list no longer
// publishes integer ranges, list sizes or the decimal pattern, and the
// server must refuse what they excluded all the same.
func TestValidationKeepsTheBoundsToolsListLeavesOut(t *testing.T) {
	spec, _ := ordersSet(t).Tool("query_orders")
	published := string(mustJSON(t, spec.InputSchema))
	for _, bound := range []string{"minimum", "maxItems", "minItems", "2147483647", "pattern\":\"^-?"} {
		if strings.Contains(published, bound) {
			t.Errorf("published input schema still carries %s: %s", bound, published)
		}
	}
	long := make([]int, maxInItems+1)
	for i := range long {
		long[i] = i
	}
	longList, _ := json.Marshal(long)
	for _, tc := range []struct{ args, want string }{
		{`{"customer_id": 2147483648}`, "out of range for int4"},
		{`{"customer_id_in": [1, -2147483649]}`, "out of range for int4"},
		{`{"customer_id_in": []}`, "at least one value"},
		{fmt.Sprintf(`{"customer_id_in": %s}`, longList), "at most 1000"},
		{`{"customer_id_in": ["x"]}`, "must be an integer"},
		{`{"limit": 0}`, "at least 1"},
		{`{"note_search": ""}`, "must not be empty"},
		{`{"order_by": "note"}`, "order_by must be a column"},
		{`{"order_by": "created_at sideways"}`, "order_by must be a column"},
		{`{"columns": ["id", "id"]}`, "listed twice"},
	} {
		_, err := parseArgs(spec, json.RawMessage(tc.args), 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.80s: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestOrderByTakesABareColumn: the published pattern allows "<col>"
// alone, which orders ascending.
func TestOrderByTakesABareColumn(t *testing.T) {
	spec, _ := ordersSet(t).Tool("query_orders")
	for in, want := range map[string]string{"created_at": "created_at asc", "created_at asc": "created_at asc", "created_at desc": "created_at desc"} {
		a := mustArgs(t, spec, fmt.Sprintf(`{"order_by": %q}`, in))
		if a.order == nil || a.order.Value != want {
			t.Errorf("order_by %q: got %+v, want %s", in, a.order, want)
		}
	}
	p, _ := spec.Param("order_by")
	if got := spec.InputSchema.Properties["order_by"].Pattern; got != orderPattern(p.Order) || !strings.Contains(got, "created_at|") {
		t.Errorf("order_by pattern %q", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
