package policy

import (
	"strings"
	"testing"
	"time"
)

func TestBadInputDeniedQuickly(t *testing.T) {
	e := newTestEngine(t)
	deep := 10000
	cases := []struct {
		name, sql, rule string
	}{
		{"empty", "", RuleInput},
		{"blank", " \n\t ", RuleInput},
		{"only semicolons", ";;;", RuleInput},
		{"only a comment", "-- nothing", RuleInput},
		{"10 MB", "select '" + strings.Repeat("x", 10<<20) + "'", RuleInput},
		{"just over the cap", "select " + strings.Repeat(" ", DefaultMaxStatementBytes), RuleInput},
		{"NUL byte", "select 1\x00; drop table t", RuleInput},
		{"invalid UTF-8", "select '\xff\xfe'", RuleInput},
		{"truncated UTF-8", "select 'caf\xc3'", RuleInput},
		{"10k nested parentheses", "select " + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep), RuleDepth},
		{"10k chained operators", "select " + strings.Repeat("1+", deep) + "1", RuleDepth},
		{"100k chained operators", "select " + strings.Repeat("1+", 100000) + "1", RuleDepth},
		{"10k chained casts", "select 1" + strings.Repeat("::int", deep), RuleDepth},
		{"10k NOTs", "select " + strings.Repeat("NOT ", deep) + "true", RuleDepth},
		{"1000 nested subqueries", strings.Repeat("select * from (", 1000) + "select 1" + strings.Repeat(") s", 1000), RuleDepth},
		{"deep function nesting", "select " + strings.Repeat("abs(", 800) + "1" + strings.Repeat(")", 800), RuleDepth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			v := e.Decide(Identity{}, c.sql)
			if v.Allowed || v.Rule != c.rule || v.SQLState != SQLStateDenied {
				t.Fatalf("got %v %s %s (%s); want deny %s", v.Allowed, v.Rule, v.SQLState, v.Reason, c.rule)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestWideButShallowStatementsAllowed(t *testing.T) {
	e := newTestEngine(t)
	in := make([]string, 20000)
	for i := range in {
		in[i] = "1"
	}
	for _, sql := range []string{
		"select * from orders where id in (" + strings.Join(in, ",") + ")",
		"select " + strings.Repeat("id, ", 3000) + "id from orders",
		"select '" + strings.Repeat("(", 50000) + "'",
	} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("denied a %d-byte shallow statement: %s: %s", len(sql), v.Rule, v.Reason)
		}
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		script string
		want   []string
	}{
		{"COMMIT; DROP TABLE orders", []string{"COMMIT", "DROP TABLE orders"}},
		{"select 'a;b'; select $$;$$;\n-- c;\nselect 1", []string{"select 'a;b'", "select $$;$$", "-- c;\nselect 1"}},
		{"select 1; selec 2; select 3", []string{"select 1", "selec 2", "select 3"}},
		{"select 1; select (; select 3 -- x", []string{"select 1", "select (", "select 3 -- x"}},
		{"select 1; select 'unterminated; select 3", []string{"select 1; select 'unterminated; select 3"}},
		{"selec 1; /* only a comment */ ; select 2", []string{"selec 1", "select 2"}},
		{"", nil},
		{" ;; ", nil},
	}
	for _, c := range cases {
		got, err := Split(c.script)
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Split(%q) = %q, %v; want %q", c.script, got, err, c.want)
		}
	}
	if _, err := Split("select 1\x00; select 2"); err == nil {
		t.Error("Split accepted a NUL byte")
	}
}
