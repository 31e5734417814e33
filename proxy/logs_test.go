package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// syncBuffer is a bytes.Buffer safe for the proxy's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

func TestStatementLogsCarryNoValues(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, fixtureOptions{logger: logger})
	ctx := context.Background()
	simple := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := simple.Exec(ctx, "SELECT label FROM items WHERE label = 'secret-label-42'"); err != nil {
		t.Fatal(err)
	}
	extended := f.connect(t, "bob", pgx.QueryExecModeCacheStatement)
	if _, err := extended.Exec(ctx, "SELECT label FROM items WHERE id = $1", 7); err != nil {
		t.Fatal(err)
	}
	_, _ = simple.Exec(ctx, "DELETE FROM items WHERE label = 'secret-label-43'")
	// Alice sees her 50 items (RLS); a division by zero fails at the server.
	if _, err := simple.Exec(ctx, "SELECT id FROM items WHERE label <> 'secret-label-44'"); err != nil {
		t.Fatal(err)
	}
	_, _ = simple.Exec(ctx, "SELECT 1 / (id - id) FROM items WHERE label <> 'secret-label-45'")

	var statements, denials int
	var bobsRow bool
	for _, rec := range buf.records(t) {
		line, _ := json.Marshal(rec)
		if strings.Contains(string(line), "secret-label") {
			t.Errorf("a value reached the log: %s", line)
		}
		switch rec["msg"] {
		case "statement":
			statements++
			for _, field := range []string{"request_id", "user", "user_id", "kind", "sql", "duration_ms"} {
				if _, ok := rec[field]; !ok {
					t.Errorf("statement record lacks %s: %s", field, line)
				}
			}
			sql, _ := rec["sql"].(string)
			if !strings.Contains(sql, "$1") {
				t.Errorf("logged SQL is not parameterized: %s", line)
			}
			switch {
			case strings.Contains(sql, "SELECT id FROM items WHERE label <>"):
				if rec["rows"] != float64(50) || rec["sqlstate"] != nil {
					t.Errorf("rows of alice's items: %s", line)
				}
			case strings.Contains(sql, "1 / (id - id)") || strings.Contains(sql, "$1 / (id - id)"):
				if rec["sqlstate"] != "22012" {
					t.Errorf("failed statement's record: %s", line)
				}
			case strings.Contains(sql, "id = $1") && rec["rows"] == float64(1):
				// pgx prepares first (a batch of its own, no rows), then
				// runs the statement.
				bobsRow = rec["user_id"] == "2"
			}
		case "statement denied":
			denials++
			if rec["rule"] != "statement.kind" || rec["user_id"] != "1" {
				t.Errorf("denial record: %s", line)
			}
		}
	}
	if !bobsRow {
		t.Error("no record of bob's lookup returning one row")
	}
	if statements < 4 || denials != 1 {
		t.Fatalf("%d statement records, %d denial records", statements, denials)
	}
}
