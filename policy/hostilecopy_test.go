package policy

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The proxy replays the hostile corpus in every client encoding from a
// copy (the proxy may not import this package's tests): a statement that
// moves from denied to allowed here must move there too, or the proxy's
// test reports a hostile statement allowed.
func TestHostileCorpusCopyIsCurrent(t *testing.T) {
	b, err := os.ReadFile("../proxy/testdata/hostile.json")
	if err != nil {
		t.Fatal(err)
	}
	var cp []string
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatal(err)
	}
	for _, sql := range cp {
		if !slices.ContainsFunc(hostile, func(h struct{ sql, rule string }) bool { return h.sql == sql }) {
			t.Errorf("proxy/testdata/hostile.json holds %q, which is no longer in the hostile corpus: copy the corpus again", sql)
		}
	}
}
