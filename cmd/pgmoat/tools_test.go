package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

func TestToolsWithoutConfigSaysWhatToPass(t *testing.T) {
	t.Setenv("PGMOAT_CONFIG", "")
	var out, errb bytes.Buffer
	if code := runTools(nil, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "--config") || out.Len() != 0 {
		t.Errorf("stderr %q stdout %q", errb.String(), out.String())
	}
	if code := runTools([]string{"--bogus"}, &out, &errb); code != exitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := runTools([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb); code != exitUsage {
		t.Errorf("missing config: exit %d", code)
	}
}

func TestToolsAgainstALiveDatabase(t *testing.T) {
	t.Parallel()
	c := shared.Get(t)
	db := pgcluster.NewDatabase(t, c)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE orders (id bigint PRIMARY KEY, placed date NOT NULL);
CREATE INDEX ON orders (placed);
COMMENT ON TABLE orders IS 'One row per order.';`)
	_ = conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "pgmoat.yaml")
	cfg := "backend:\n  dsn: \"" + strings.ReplaceAll(c.DSN(db), `"`, `\"`) + "\"\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := runTools([]string{"--config", cfgPath}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"query_orders", "One row per order.", "placed_gte", "tokens"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := runTools([]string{"--config", cfgPath, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var listed struct {
		Tools []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"inputSchema"`
		} `json:"tools"`
		Total int `json:"x-pgmoat-token-total"`
	}
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatalf("--json output is not JSON: %v", err)
	}
	if len(listed.Tools) != 1 || listed.Tools[0].Name != "query_orders" || listed.Total <= 0 {
		t.Errorf("listed %+v", listed)
	}
}
