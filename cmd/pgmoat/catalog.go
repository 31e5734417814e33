package main

import (
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// onlineCatalog lets the policy engine judge functions (user-defined ones
// included) and resolve unqualified relations against the live catalog
// instead of the offline table. cmd wires it because policy and
// introspect do not know each other.
type onlineCatalog struct{ snap *introspect.Snapshot }

// Volatility implements policy.FunctionCatalog.
func (c onlineCatalog) Volatility(schema, name string) (policy.Volatility, bool) {
	v, ok := c.snap.FunctionVolatility(schema, name)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return policy.Volatility(v[0]), true
}

// HasRelation implements policy.RelationCatalog.
func (c onlineCatalog) HasRelation(schema, name string) bool {
	_, ok := c.snap.Relation(schema, name)
	return ok
}

// OperatorFunctions implements policy.CallCatalog.
func (c onlineCatalog) OperatorFunctions(schema, op string) []policy.FuncRef {
	return funcRefs(c.snap.OperatorFunctions(schema, op))
}

// TypeFunctions implements policy.CallCatalog.
func (c onlineCatalog) TypeFunctions(schema, typ string) []policy.FuncRef {
	return funcRefs(c.snap.TypeFunctions(schema, typ))
}

func funcRefs(names []introspect.QualifiedName) []policy.FuncRef {
	if len(names) == 0 {
		return nil
	}
	out := make([]policy.FuncRef, len(names))
	for i, n := range names {
		out[i] = policy.FuncRef{Schema: n.Schema, Name: n.Name}
	}
	return out
}
