package policy

import (
	"os"
	"strings"
	"testing"
)

// psqlMeta reads the catalog queries psql 15 sends for its \d family,
// captured with psql -E against a real server.
func psqlMeta(t testing.TB) (cmds, queries []string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/psql15_meta.sql")
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	var cur []string
	for line := range strings.SplitSeq(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "-- psql: "):
			cmd, cur = strings.TrimPrefix(line, "-- psql: "), nil
		case line == "-- end":
			cmds = append(cmds, cmd)
			queries = append(queries, strings.Join(cur, "\n"))
		default:
			cur = append(cur, line)
		}
	}
	if len(queries) < 40 {
		t.Fatalf("read %d psql queries, want the full capture", len(queries))
	}
	return cmds, queries
}

func TestPsqlMetaCommandsAllowed(t *testing.T) {
	e := newTestEngine(t)
	cmds, queries := psqlMeta(t)
	seen := map[string]bool{}
	for i, q := range queries {
		seen[cmds[i]] = true
		v := e.Decide(Identity{UserID: "1"}, q)
		if !v.Allowed {
			t.Errorf("%s: denied %s: %s\n%s", cmds[i], v.Rule, v.Reason, q)
		}
	}
	for _, want := range []string{`\d`, `\d+ orders`, `\dt`, `\di`, `\dv`, `\df`, `\dn`, `\l`, `\du`} {
		if !seen[want] {
			t.Errorf("capture lacks %s", want)
		}
	}
}

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
