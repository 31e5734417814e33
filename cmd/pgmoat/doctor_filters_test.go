package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

func TestDoctorChecksConfiguredFilterColumnsForAnIndex(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	cfg := *f.cfg
	cfg.MCP.Tools = mcp.GenerateOptions{
		Entities: []mcp.Entity{{Name: "orders_by_customer", Table: "public.orders",
			Filters: []string{"customer_id", "note", "status_in", "total_amount_gte"}}},
		Overrides: map[string]mcp.ToolOverride{
			"customers":       {Required: []string{"email", "full_name_search"}},
			"support_tickets": {Required: []string{"priority", "not_a_column"}},
			// A full-text expression index serves description_search; a
			// btree serves price ranges.
			"products": {Required: []string{"description_search", "price_gte"}},
		},
	}
	findings, err := filterIndexFindings(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, fd := range findings {
		if fd.Check != "filter.index" || fd.Severity != introspect.Warning {
			t.Errorf("finding: %+v", fd)
		}
		for _, col := range []string{"orders on note", "orders on total_amount", "support_tickets on priority", "customers on full_name"} {
			if strings.Contains(fd.Message, col) {
				got[col] = fd.Message
			}
		}
	}
	// orders.note, orders.total_amount and support_tickets.priority have no
	// index on purpose; customer_id, status, email, products.description
	// (full text) and products.price have one.
	for _, col := range []string{"orders on note", "orders on total_amount", "support_tickets on priority"} {
		if got[col] == "" {
			t.Errorf("no warning for %s in %+v", col, findings)
		}
	}
	if !strings.Contains(got["orders on note"], "CREATE INDEX ON public.orders (note)") ||
		!strings.Contains(got["orders on note"], "mcp.tools.entities[orders_by_customer]") {
		t.Errorf("note warning: %s", got["orders on note"])
	}
	wantTrigram := got["customers on full_name"] == "" || strings.Contains(got["customers on full_name"], "gin_trgm_ops")
	if !wantTrigram {
		t.Errorf("a substring filter's advice must be a trigram index: %s", got["customers on full_name"])
	}
	if len(findings) != len(got) {
		t.Errorf("unexpected findings: %+v", findings)
	}

	cfg.MCP.Tools = mcp.GenerateOptions{Entities: []mcp.Entity{{Name: "o", Table: "orders", Filters: []string{"customer_id", "created_at_gte"}}}}
	findings, err = filterIndexFindings(context.Background(), &cfg)
	if err != nil || len(findings) != 1 || findings[0].Severity != introspect.Note || !strings.Contains(findings[0].Message, "(2)") {
		t.Fatalf("all indexed: %+v %v", findings, err)
	}
	cfg.MCP.Tools = mcp.GenerateOptions{}
	if findings, err := filterIndexFindings(context.Background(), &cfg); err != nil || len(findings) != 0 {
		t.Fatalf("nothing configured: %+v %v", findings, err)
	}
}
