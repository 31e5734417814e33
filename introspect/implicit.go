package introspect

// ImplicitCall is a function PostgreSQL calls where a statement names
// none: behind an operator, or to make or show a value of a type (its
// input/output/receive/send/typmod/subscript functions, the casts that
// produce it, and the CHECK constraints of a domain). Only functions outside pg_catalog are listed: pg_catalog's
// own are fixed by the server release, and the policy package checks them
// against a real server in its tests. The exception is what a domain's
// CHECK calls: the DBA wrote it, so pg_catalog's functions count there.
type ImplicitCall struct {
	Via      ImplicitVia
	Schema   string // of the operator or type
	Name     string // operator symbol or type name
	Function QualifiedName
}

// ImplicitVia says what an implicit call stands behind.
type ImplicitVia string

// What implicit calls stand behind.
const (
	ViaOperator ImplicitVia = "operator"
	ViaType     ImplicitVia = "type"
)

// qImplicitCalls lists, for every operator and type, the functions outside
// pg_catalog that using it may run. Restriction and join estimators run
// at planning time on the statement's constants, so they count, and so do
// the support functions of the operator families an operator belongs to
// (comparison and hash functions used for sorting, grouping and joins),
// and the functions of its negator and commutator, which the planner
// puts in its place (NOT (a op b) becomes a negator b; a join clause is
// commuted to put the outer side first);
// both are listed as (operator, function) pairs first and joined to
// pg_proc by equality, since a join on "oid IN (...) OR oid IN (subquery)"
// runs the subquery for every operator and function pair. A
// type stands for its whole chain: a domain's base types, an array's
// element type, a composite's attribute types and a range's subtype,
// whose input functions and CHECK constraints run when a value of the
// outer type is made; a domain's CHECK counts the functions it calls
// and those behind the operators it uses (pg_depend records the
// operator, not its function). The rows for type "*"."*" are what any statement may
// reach without naming a type: every type's input, output, receive, send,
// typmod and subscript functions, every domain CHECK, implicit and
// assignment casts (explicit casts need the type written), the support
// functions and operator code of every B-tree and hash operator family
// (ORDER BY, DISTINCT, GROUP BY, hash aggregates and a range's bounds
// compare a value with its type's default classes, whatever their
// operators are named).
const qImplicitCalls = `WITH RECURSIVE chain(top, t) AS (
  SELECT oid, oid FROM pg_catalog.pg_type
  UNION
  SELECT c.top, u.next
  FROM chain c JOIN pg_catalog.pg_type ty ON ty.oid = c.t,
    LATERAL (
      VALUES (ty.typbasetype), (CASE WHEN ty.typcategory = 'A' THEN ty.typelem ELSE 0 END)
      UNION ALL
      SELECT a.atttypid FROM pg_catalog.pg_attribute a
      WHERE ty.typrelid <> 0 AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = ty.oid OR r.rngmultitypid = ty.oid
    ) u(next)
  WHERE u.next <> 0
), fns(top, fn, checked) AS (
  SELECT c.top, f, false
  FROM chain c JOIN pg_catalog.pg_type ty ON ty.oid = c.t,
    LATERAL unnest(ARRAY[ty.typinput, ty.typoutput, ty.typreceive, ty.typsend,
      ty.typmodin, ty.typmodout, ty.typsubscript]::oid[]) f
  UNION
  SELECT c.top, ca.castfunc, false
  FROM chain c JOIN pg_catalog.pg_cast ca ON ca.casttarget = c.t
  UNION
  SELECT c.top, m.fn, true
  FROM chain c
  JOIN pg_catalog.pg_constraint con ON con.contypid = c.t
  CROSS JOIN LATERAL (` + checkFunctions + `) m
  UNION
  SELECT c.top, coalesce(o.oprcode, d.refobjid), false
  FROM chain c
  JOIN pg_catalog.pg_constraint con ON con.contypid = c.t
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
    AND d.objid = con.oid
    AND d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass)
  LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
    AND o.oid = d.refobjid
)
SELECT 'operator', n.nspname, o.oprname, pn.nspname, p.proname
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
JOIN (
  SELECT o2.oid, f FROM pg_catalog.pg_operator o2,
    LATERAL unnest(ARRAY[o2.oprcode, o2.oprrest, o2.oprjoin]::pg_catalog.oid[]) f
  UNION
  SELECT o2.oid, f FROM pg_catalog.pg_operator o2
    JOIN pg_catalog.pg_operator o3 ON o3.oid IN (o2.oprnegate, o2.oprcom),
    LATERAL unnest(ARRAY[o3.oprcode, o3.oprrest, o3.oprjoin]::pg_catalog.oid[]) f
  UNION
  SELECT ao.amopopr, ap.amproc FROM pg_catalog.pg_amop ao
    JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily = ao.amopfamily
) calls(opr, fn) ON calls.opr = o.oid
JOIN pg_catalog.pg_proc p ON p.oid = calls.fn
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE pn.nspname <> 'pg_catalog'
UNION
SELECT 'type', n.nspname, t.typname, pn.nspname, p.proname
FROM fns
JOIN pg_catalog.pg_type t ON t.oid = fns.top
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_proc p ON p.oid = fns.fn
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE (pn.nspname <> 'pg_catalog' OR fns.checked)
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
UNION
SELECT 'type', '*', '*', pn.nspname, p.proname
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE pn.nspname <> 'pg_catalog' AND p.oid IN (
  SELECT unnest(ARRAY[ty.typinput, ty.typoutput, ty.typreceive, ty.typsend,
    ty.typmodin, ty.typmodout, ty.typsubscript]::oid[]) FROM pg_catalog.pg_type ty
  UNION
  SELECT ca.castfunc FROM pg_catalog.pg_cast ca WHERE ca.castcontext <> 'e'
  UNION
  SELECT d.refobjid FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
    AND d.objid = con.oid AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  WHERE con.contypid <> 0
  UNION
  SELECT o.oprcode FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
    AND d.objid = con.oid AND d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
  JOIN pg_catalog.pg_operator o ON o.oid = d.refobjid
  WHERE con.contypid <> 0
  UNION
  SELECT ap.amproc FROM pg_catalog.pg_amproc ap
  JOIN pg_catalog.pg_opfamily fa ON fa.oid = ap.amprocfamily
  JOIN pg_catalog.pg_am am ON am.oid = fa.opfmethod
  WHERE am.amname IN ('btree', 'hash')
  UNION
  SELECT o.oprcode FROM pg_catalog.pg_amop ao
  JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
  JOIN pg_catalog.pg_am am ON am.oid = ao.amopmethod
  WHERE am.amname IN ('btree', 'hash'))
UNION
SELECT 'type', '*', '*', pn.nspname, p.proname
FROM pg_catalog.pg_constraint con
CROSS JOIN LATERAL (` + checkFunctions + `) m
JOIN pg_catalog.pg_proc p ON p.oid = m.fn
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE con.contypid <> 0
ORDER BY 1, 2, 3, 4, 5`

// checkFunctions lists, as fn, every function a domain CHECK
// constraint con's expression calls directly or through an operator,
// pg_catalog's among them: pg_depend records no dependency on pinned
// objects, so a CHECK calling clock_timestamp(), pg_sleep() or
// set_config() shows nothing there. The stored expression (conbin)
// names them as the funcid of a function call and the opfuncid of an
// operator.
const checkFunctions = `SELECT x[1]::pg_catalog.oid AS fn
  FROM pg_catalog.regexp_matches(con.conbin::pg_catalog.text, ':(?:funcid|opfuncid) ([0-9]+)', 'g') x`

// OperatorFunctions returns the functions outside pg_catalog behind the
// operators named op in schema, or in every schema when schema is "*"
// (an operator class is found by type, wherever it lives).
func (s *Snapshot) OperatorFunctions(schema, op string) []QualifiedName {
	return s.implicit[implicitKey{ViaOperator, schema, op}]
}

// TypeFunctions returns the functions outside pg_catalog that making or
// showing a value of schema.typ may run; with both arguments AnySchema,
// those any statement may reach without naming a type.
func (s *Snapshot) TypeFunctions(schema, typ string) []QualifiedName {
	return s.implicit[implicitKey{ViaType, schema, typ}]
}

// AnySchema asks OperatorFunctions for operators in every schema.
const AnySchema = "*"

type implicitKey struct {
	via          ImplicitVia
	schema, name string
}

func (s *Snapshot) indexImplicitCalls() {
	s.implicit = make(map[implicitKey][]QualifiedName, len(s.ImplicitCalls))
	for _, c := range s.ImplicitCalls {
		k := implicitKey{c.Via, c.Schema, c.Name}
		s.implicit[k] = append(s.implicit[k], c.Function)
		switch c.Via {
		case ViaOperator:
			all := implicitKey{c.Via, AnySchema, c.Name}
			s.implicit[all] = append(s.implicit[all], c.Function)
		}
	}
}
