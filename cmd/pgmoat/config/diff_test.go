package config

import (
	"slices"
	"strings"
	"testing"
)

func TestChanged(t *testing.T) {
	cases := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"same text", func(s string) string { return s }, nil},
		{"listen", func(s string) string { return strings.Replace(s, "127.0.0.1:7432", "127.0.0.1:7433", 1) }, []string{"proxy.listen"}},
		{"pool", func(s string) string { return strings.Replace(s, "max: 10", "max: 11", 1) }, []string{"backend.pool.max"}},
		{"profile timeout", func(s string) string { return strings.Replace(s, "statement_timeout: 2s", "statement_timeout: 3s", 1) }, []string{"profiles"}},
		{"user password", func(s string) string { return strings.Replace(s, "alice-pw", "alice-pw2", 1) }, []string{"users"}},
		{"admin role", func(s string) string { return strings.Replace(s, "role: auditor", "role: admin", 1) }, []string{"admin.users"}},
		// A changed token is reported by its section only: the key is the
		// secret.
		{"token", func(s string) string { return strings.Replace(s, "alice-token:", "other-token:", 1) }, []string{"mcp.tokens"}},
		{"rls", func(s string) string {
			return s + "rls:\n  setting: app.uid\n"
		}, []string{"rls.setting"}},
		{"tools section", func(s string) string {
			return strings.Replace(s, "mcp:\n", "mcp:\n  log_values: [limit]\n  tools:\n    max_rows: 50\n", 1)
		}, []string{"mcp.tools.max_rows", "mcp.log_values"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Parse([]byte(validConfig), "a.yaml")
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse([]byte(c.edit(validConfig)), "b.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := Changed(a, b); !slices.Equal(got, c.want) {
				t.Fatalf("Changed = %q, want %q", got, c.want)
			}
			for _, key := range Changed(a, b) {
				if strings.Contains(key, "token:") || strings.Contains(key, "-pw") {
					t.Fatalf("a key carries a value: %q", key)
				}
			}
		})
	}
}
