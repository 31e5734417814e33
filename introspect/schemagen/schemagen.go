package schemagen

import (
	"fmt"
	"strings"
)

// Options shapes a generated schema. The zero value creates tables in the
// schema "gen".
type Options struct {
	// Schema receives the tables; "" means "gen". It is created when absent.
	Schema string
}

// TableName is the name of the i-th generated table (0-based).
func TableName(i int) string { return fmt.Sprintf("t%05d", i) }

// DDL returns one SQL text that creates n tables. Run it as one simple
// Query: it is a single transaction, which needs max_locks_per_transaction
// raised above the default for a few thousand tables.
func DDL(n int, opts Options) string {
	schema := opts.Schema
	if schema == "" {
		schema = "gen"
	}
	q := quoteIdent(schema)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", q)
	for i := range n {
		writeTable(&b, q, i)
	}
	return b.String()
}

func writeTable(b *strings.Builder, schema string, i int) {
	t := schema + "." + TableName(i)
	fmt.Fprintf(b, "CREATE TABLE %s (id bigint PRIMARY KEY, parent_id bigint, name text NOT NULL, "+
		"amount numeric(12,2), created_at timestamptz NOT NULL DEFAULT now(), flags text[]);\n", t)
	fmt.Fprintf(b, "CREATE INDEX ON %s (created_at);\n", t)
	fmt.Fprintf(b, "COMMENT ON TABLE %s IS 'Synthetic table number %d.';\n", t, i)
	fmt.Fprintf(b, "COMMENT ON COLUMN %s.name IS 'Name of row in table %d.';\n", t, i)
	if i > 0 {
		fmt.Fprintf(b, "ALTER TABLE %s ADD FOREIGN KEY (parent_id) REFERENCES %s.%s (id);\n", t, schema, TableName(i-1))
	}
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
