package live

import (
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// Catalog lets the policy engine judge functions (user-defined ones
// included) and resolve unqualified relations against a catalog snapshot
// instead of the offline table. It lives here because policy and
// introspect do not know each other.
type Catalog struct{ Snap *introspect.Snapshot }

// Volatility implements policy.FunctionCatalog.
func (c Catalog) Volatility(schema, name string) (policy.Volatility, bool) {
	v, ok := c.Snap.FunctionVolatility(schema, name)
	return policy.Volatility(v), ok
}

// HasRelation implements policy.RelationCatalog.
func (c Catalog) HasRelation(schema, name string) bool {
	_, ok := c.Snap.Relation(schema, name)
	return ok
}

// RelationClass implements policy.ClassCatalog.
func (c Catalog) RelationClass(schema, name string) (policy.RelationClass, bool) {
	k, ok := c.Snap.Class(schema, name)
	if !ok || k.Kind == "" {
		return policy.RelationClass{}, false
	}
	return policy.RelationClass{Kind: k.Kind[0], Partition: k.Partition, RLSChild: k.RLSChild, RowSecurity: k.RowSecurity}, true
}

// CatalogUser implements policy.UserCatalog: the catalog is read with
// the backends' DSN, so its role is the one "$user" stands for.
func (c Catalog) CatalogUser() string { return c.Snap.User }

// ServerEncoding implements policy.EncodingCatalog: the engine cuts
// names to 63 bytes of the database's encoding, as the server does.
func (c Catalog) ServerEncoding() string { return c.Snap.Encoding }

// ServerCType implements policy.CTypeCatalog.
func (c Catalog) ServerCType() string { return c.Snap.CType }

// TypeByOID implements policy.TypeCatalog.
func (c Catalog) TypeByOID(oid uint32) (policy.TypeName, bool) {
	t, ok := c.Snap.TypeByOID(oid)
	return policy.TypeName{Schema: t.Schema, Name: t.Name}, ok
}

// OperatorFunctions implements policy.CallCatalog.
func (c Catalog) OperatorFunctions(schema, op string) []policy.FunctionName {
	return functionNames(c.Snap.OperatorFunctions(schema, op))
}

// TypeFunctions implements policy.CallCatalog.
func (c Catalog) TypeFunctions(schema, typ string) []policy.FunctionName {
	return functionNames(c.Snap.TypeFunctions(schema, typ))
}

func functionNames(names []introspect.QualifiedName) []policy.FunctionName {
	if len(names) == 0 {
		return nil
	}
	out := make([]policy.FunctionName, len(names))
	for i, n := range names {
		out[i] = policy.FunctionName{Schema: n.Schema, Name: n.Name}
	}
	return out
}
