package policy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// A Parse message may give each $n a type by OID. At Bind the server
// makes the value with that type's input (or receive) function and, for
// a domain, runs its CHECK constraints, whatever the statement is: a
// Parse of SHOW or COMMIT may declare parameters it never uses, and
// Bind still converts them. So the types are judged on their own, as
// the engine judges the cast $n::type would be (typeName and regLiteral:
// the relation a row type stands for, the functions the type runs, a
// reg* type's catalog lookup of a computed value).

// RuleParamType names the denial of a Parse parameter type OID that is
// neither built in nor in the catalog.
const RuleParamType = "parse.parameter_type"

// FirstNormalObjectID is PostgreSQL's FirstNormalObjectId: OIDs below it
// are assigned by initdb, those from it up by the database's users.
const FirstNormalObjectID = 16384

// TypeName is a type's schema and name, unquoted and case-exact.
type TypeName struct {
	Schema string
	Name   string
}

// TypeCatalog is implemented by online catalogs that know the types of
// the database by OID: at least every type outside pg_catalog, and
// pg_catalog's row types of system views, whose OIDs initdb assigns.
type TypeCatalog interface {
	TypeByOID(oid uint32) (TypeName, bool)
}

// DecideParameterTypes judges the parameter type OIDs of a Parse message
// for id: each non-zero one as a cast of a parameter to that type, so
// that what Bind runs to make the values is judged like what the text
// runs. It returns an allowed Verdict, or the first denial, whose reason
// names the parameter.
func (e *Engine) DecideParameterTypes(id Identity, oids []uint32) Verdict {
	if len(oids) == 0 {
		return Verdict{Allowed: true}
	}
	name := id.ProfileName()
	cur := e.cur.Load()
	r, ok := cur.profiles[name]
	if !ok {
		return denied(deny(RuleProfile, fmt.Sprintf("unknown profile %q", name)), KindUnknown)
	}
	for i, oid := range oids {
		if oid == 0 {
			continue // the server infers the type from the text
		}
		v := cur.paramTypes.get(name, oid, func() Verdict { return e.judgeParamType(r, cur.fc, oid) })
		if !v.Allowed {
			v.Reason = fmt.Sprintf("parameter $%d: %s", i+1, v.Reason)
			return v
		}
	}
	return Verdict{Allowed: true}
}

// judgeParamType judges one type OID as the cast $1::type.
func (e *Engine) judgeParamType(r *rules, fc FunctionCatalog, oid uint32) Verdict {
	t, ok := typeByOID(fc, oid)
	if !ok {
		return denied(deny(RuleParamType, fmt.Sprintf("type OID %d is neither built in nor in the catalog", oid)), KindUnknown)
	}
	// Both parts quoted: a schema named like a keyword must not turn
	// the text into another statement or a parse error.
	sql := "SELECT $1::" + QuoteIdent(t.Schema) + "." + QuoteIdent(t.Name)
	v := e.decideOnce(r, fc, nil, sql, nil)
	if !v.Allowed {
		v.Reason = fmt.Sprintf("type %s (OID %d): %s", quoteQualified(t.Schema, t.Name), oid, v.Reason)
	}
	return Verdict{Allowed: v.Allowed, SQLState: v.SQLState, Rule: v.Rule, Reason: v.Reason, Kind: v.Kind}
}

// QuoteIdent is s as a quoted SQL identifier, whatever it holds: a name
// from the catalog or a client may be a keyword, have capitals or carry
// quotes, and quoting it always names exactly that relation, column or
// type. The proxy and the MCP door build their SQL with it too.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// typeByOID names a type: the online catalog's answer first, then, for
// OIDs the release fixes, pg_catalog's built-in table.
func typeByOID(fc FunctionCatalog, oid uint32) (TypeName, bool) {
	if tc, ok := fc.(TypeCatalog); ok {
		if t, ok := tc.TypeByOID(oid); ok {
			return t, true
		}
	}
	if oid >= FirstNormalObjectID {
		return TypeName{}, false
	}
	name, ok := builtinTypeOIDs[oid]
	return TypeName{Schema: "pg_catalog", Name: name}, ok
}

// builtinTypeOIDs maps the OIDs of pg_catalog's types that the release
// fixes to their names (catalog_gen.go).
var builtinTypeOIDs = func() map[uint32]string {
	m := make(map[uint32]string, 256)
	for line := range strings.SplitSeq(generatedBuiltinTypes, "\n") {
		num, name, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		if oid, err := strconv.ParseUint(num, 10, 32); err == nil {
			m[uint32(oid)] = name
		}
	}
	return m
}()

// paramTypeMemo holds the verdicts on parameter types per profile for
// one catalog generation: drivers send the same few OIDs on every Parse.
type paramTypeMemo struct {
	mu sync.Mutex
	by map[paramTypeKey]Verdict
}

type paramTypeKey struct {
	profile string
	oid     uint32
}

// maxParamTypeMemo bounds the memo: a client cycling through OIDs must
// not grow it without end.
const maxParamTypeMemo = 4096

func (m *paramTypeMemo) get(profile string, oid uint32, judge func() Verdict) Verdict {
	k := paramTypeKey{profile, oid}
	m.mu.Lock()
	v, ok := m.by[k]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = judge()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[paramTypeKey]Verdict{}
	}
	if len(m.by) < maxParamTypeMemo {
		m.by[k] = v
	}
	return v
}
