package mcp_test

import (
	"github.com/pgmoat/pgmoat/introspect"
)

// Hand-built snapshots: generation is pure, so most tests need no database.

func pgType(name string) *introspect.Type {
	return &introspect.Type{Schema: "pg_catalog", Name: name, Kind: introspect.TypeBase}
}

func arrayOf(elem *introspect.Type) *introspect.Type {
	return &introspect.Type{Schema: "pg_catalog", Name: "_" + elem.Name, Kind: introspect.TypeArray, Elem: elem}
}

func enumType(name string, labels ...string) *introspect.Type {
	return &introspect.Type{Schema: "public", Name: name, Kind: introspect.TypeEnum, Labels: labels}
}

func col(name string, t *introspect.Type, notNull bool) *introspect.Column {
	return &introspect.Column{Name: name, Type: t, DeclaredType: t.Name, TypMod: -1, NotNull: notNull, Selectable: true}
}

func table(schema, name string, cols ...*introspect.Column) *introspect.Relation {
	for i, c := range cols {
		c.Num = int16(i + 1)
	}
	return &introspect.Relation{Schema: schema, Name: name, Kind: introspect.KindTable, Columns: cols, Selectable: true, EstimatedRows: -1}
}

func index(name, method string, cols ...string) *introspect.Index {
	ix := &introspect.Index{Name: name, Method: method, Valid: true}
	for _, c := range cols {
		ix.Keys = append(ix.Keys, introspect.IndexKey{Column: c, Expression: c})
	}
	return ix
}

func withPK(r *introspect.Relation, cols ...string) *introspect.Relation {
	r.PrimaryKey = cols
	r.Indexes = append(r.Indexes, index(r.Name+"_pkey", "btree", cols...))
	return r
}

func snapshot(rels ...*introspect.Relation) *introspect.Snapshot {
	return introspect.Assemble(&introspect.Snapshot{Relations: rels})
}

// shopLike is a small orders/customers pair with a foreign key.
func shopLike() *introspect.Snapshot {
	status := enumType("order_status", "pending", "paid", "shipped")
	customers := withPK(table("public", "customers",
		col("id", pgType("int4"), true), col("email", pgType("text"), true), col("full_name", pgType("text"), true)), "id")
	customers.Comment = "One row per customer."
	customers.Indexes = append(customers.Indexes, index("customers_email_key", "btree", "email"))
	orders := withPK(table("public", "orders",
		col("id", pgType("int8"), true), col("customer_id", pgType("int4"), true), col("status", status, true),
		col("created_at", pgType("timestamptz"), true), col("note", pgType("text"), false)), "id")
	orders.Comment = "One row per order."
	orders.Indexes = append(orders.Indexes,
		index("orders_customer_id", "btree", "customer_id"),
		index("orders_status", "btree", "status"),
		index("orders_created_at", "btree", "created_at"))
	orders.ForeignKeys = []introspect.ForeignKey{{Name: "orders_customer_id_fkey",
		From: introspect.QualifiedName{Schema: "public", Name: "orders"}, FromColumns: []string{"customer_id"},
		To: introspect.QualifiedName{Schema: "public", Name: "customers"}, ToColumns: []string{"id"}}}
	return snapshot(customers, orders)
}
