package mcp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pgmoat/pgmoat/mcp"
)

// tokenFile is a testdata/golden/<name>.tokens.json file: the tools of
// <name>.json counted by testdata/tokens/count.mjs with a real tokenizer.
type tokenFile struct {
	Tokenizer string `json:"tokenizer"`
	Tools     []struct {
		Name   string `json:"name"`
		Bytes  int    `json:"bytes"`
		Tokens int    `json:"tokens"`
		SHA256 string `json:"sha256"`
	} `json:"tools"`
	Total struct {
		Tokens int `json:"tokens"`
	} `json:"total"`
}

// Token ceilings the golden files are held to.
const (
	// shopToolCeiling bounds each table tool of the shop demo. Before the
	// tools said each thing once they cost 786 to 1,411 tokens, then 382
	// to 694; what is left is the COMMENTs, verbatim (150 to 185 tokens on
	// the biggest tools), one entry per parameter and typed column.
	shopToolCeiling = 625
	// shopTotalCeiling bounds the shop's tools/list (8,055 tokens, then
	// 3,829 before).
	shopTotalCeiling = 3520
)

func readTokenFile(t *testing.T, name string) tokenFile {
	t.Helper()
	var tf tokenFile
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".tokens.json"))
	if err != nil {
		t.Fatalf("%v (count with: npm install --prefix testdata/tokens && node testdata/tokens/count.mjs testdata/golden/%s.json)", err, name)
	}
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	return tf
}

// goldenWire reads the tools of a golden tools/list file back into the
// exact bytes ToolSpec.ListingJSON gives, without the x-pgmoat annotations.
func goldenWire(t *testing.T, name string) [][]byte {
	t.Helper()
	var file struct {
		Tools []struct {
			Name         json.RawMessage `json:"name"`
			Description  json.RawMessage `json:"description"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
			Annotations  json.RawMessage `json:"annotations,omitempty"`
		} `json:"tools"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("golden", name+".json"))), &file); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, tool := range file.Tools {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(tool); err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	}
	return out
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkTokenFile ties the token counts of name to the tools set generates:
// under -update it recounts them with the real tokenizer (node and the
// package in testdata/tokens are needed then), otherwise it fails when a
// tool changed since it was counted.
func checkTokenFile(t *testing.T, name string, set *mcp.ToolSet) {
	t.Helper()
	if *update {
		cmd := exec.Command("node", filepath.Join("testdata", "tokens", "count.mjs"), filepath.Join("testdata", "golden", name+".json"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("counting tokens: %v\n%s(install the tokenizer with: npm install --prefix testdata/tokens)", err, out)
		}
	}
	tf := readTokenFile(t, name)
	listed := set.Listed()
	if len(tf.Tools) != len(listed) {
		t.Fatalf("%s.tokens.json counts %d tools, the set lists %d: recount with -update", name, len(tf.Tools), len(listed))
	}
	for i, tool := range listed {
		if tf.Tools[i].Name != tool.Name || tf.Tools[i].SHA256 != sha(tool.ListingJSON()) {
			t.Errorf("%s.tokens.json: %s was counted before it changed: recount with -update", name, tool.Name)
		}
	}
}

// TestGoldenTokenCounts holds the golden tools/list files to their token
// budgets, as a real tokenizer counts them, and checks that the counts
// belong to the golden files as they are (TestGoldenShop and the other
// golden tests check that the golden files are what the code generates).
// It also checks that EstimateTokens, which the budget uses at run time,
// never counts fewer tokens than the real tokenizer on any golden tool
// and not many more.
func TestGoldenTokenCounts(t *testing.T) {
	for _, name := range []string{"shop", "catalog", "synthetic200"} {
		t.Run(name, func(t *testing.T) {
			tf := readTokenFile(t, name)
			wire := goldenWire(t, name)
			if len(wire) != len(tf.Tools) {
				t.Fatalf("%d tools in %s.json, %d counted: recount", len(wire), name, len(tf.Tools))
			}
			total := 0
			for i, w := range wire {
				c := tf.Tools[i]
				if c.SHA256 != sha(w) || c.Bytes != len(w) {
					t.Errorf("%s: counted before %s.json changed: recount", c.Name, name)
				}
				if name == "shop" && c.Tokens > shopToolCeiling {
					t.Errorf("%s: %d tokens, ceiling %d", c.Name, c.Tokens, shopToolCeiling)
				}
				est := mcp.EstimateTokens(w)
				if est < c.Tokens || est > c.Tokens*5/4+10 {
					t.Errorf("%s: estimate %d for %d real tokens: EstimateTokens must not count fewer, nor a quarter more", c.Name, est, c.Tokens)
				}
				total += c.Tokens
			}
			if total != tf.Total.Tokens {
				t.Errorf("total %d, file says %d", total, tf.Total.Tokens)
			}
			if total > mcp.DefaultTokenBudget {
				t.Errorf("tools/list of %s: %d tokens, budget %d", name, total, mcp.DefaultTokenBudget)
			}
			if name == "shop" && total > shopTotalCeiling {
				t.Errorf("tools/list of shop: %d tokens, ceiling %d", total, shopTotalCeiling)
			}
			t.Logf("%s: %d tools, %d tokens (%s)", name, len(wire), total, tf.Tokenizer)
		})
	}
}
