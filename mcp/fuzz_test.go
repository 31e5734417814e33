package mcp_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

// FuzzGenerateNames feeds arbitrary table and column names through
// generation: names must stay unique, short and made of safe characters,
// and nothing may panic.
func FuzzGenerateNames(f *testing.F) {
	for _, seed := range [][3]string{
		{"orders", "Orders", "id"}, {"a b", "a-b", "limit"}, {"ü", "日本", "ñandú"},
		{strings.Repeat("x", 63), strings.Repeat("x", 63), strings.Repeat("c", 63)}, {"", `"`, "_"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if !utf8.ValidString(a+b+c) || a == b || a == "" || b == "" || c == "" || c == "id" {
			return
		}
		i4 := pgType("int4")
		mk := func(name string) *introspect.Relation {
			r := withPK(table("public", name, col("id", i4, true), col(c, i4, true)), "id")
			r.Indexes = append(r.Indexes, index(name+"_c", "btree", c))
			return r
		}
		set, err := mcp.Generate(snapshot(mk(a), mk(b)), mcp.GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, spec := range set.Tables {
			checkName(t, spec.Name)
			if seen[spec.Name] {
				t.Fatalf("duplicate tool %q", spec.Name)
			}
			seen[spec.Name] = true
			params := map[string]bool{}
			for _, p := range spec.Params {
				checkName(t, p.Name)
				if params[p.Name] {
					t.Fatalf("duplicate parameter %q in %s", p.Name, spec.Name)
				}
				params[p.Name] = true
			}
		}
	})
}

func checkName(t *testing.T, n string) {
	t.Helper()
	if n == "" || len(n) > 64 || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Fatalf("bad name %q", n)
	}
}
