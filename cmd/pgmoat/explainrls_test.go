package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// TestExplainOfRowSecurityTablesRefusedOnTheWire: with the catalog
// online, as serve runs, EXPLAIN of the demo's tables with row-level
// security (whose estimates come from every manager's rows) reaches the
// client as 42501 explain.row_security, on a connection that goes on
// working; EXPLAIN of the public products table still plans.
func TestExplainOfRowSecurityTablesRefusedOnTheWire(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	engine, err := policy.New(f.cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newMCPStack(context.Background(), f.cfg, engine, f.pool, discardLogger(), &alice, nil); err != nil {
		t.Fatal(err) // reads the catalog into the engine
	}
	srv, err := proxy.NewServer(proxy.Config{Engine: engine, Pool: f.pool, Auth: proxy.AuthMD5,
		Users: map[string]proxy.User{"alice": {Password: "alice", Identity: alice}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=alice password=alice dbname=%s sslmode=disable", host, port, f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"EXPLAIN SELECT * FROM customers WHERE email = 'someone@example.com'",
		"EXPLAIN SELECT * FROM products p WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.product_id = p.id)",
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
			_, err := conn.Exec(ctx, sql, mode)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != policy.SQLStateDenied || !strings.HasPrefix(pe.Message, "pgmoat: "+policy.RuleExplainRowSecurity+": ") {
				t.Errorf("%s (%v): %v, want 42501 %s", sql, mode, err, policy.RuleExplainRowSecurity)
			}
		}
	}
	var plan, n string
	if err := conn.QueryRow(ctx, "EXPLAIN SELECT * FROM products WHERE id = 1").Scan(&plan); err != nil || plan == "" {
		t.Fatalf("EXPLAIN of products: %q %v", plan, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*)::text FROM customers").Scan(&n); err != nil || n == "0" {
		t.Fatalf("alice's customers after the refusals: %q %v", n, err)
	}
}
