package policy

import (
	"fmt"
	"slices"
	"strings"
)

// A type named outside a string ('x'::t, CAST(x AS t), t '..', t[],
// json_populate_record(null::t, ..), a column definition list's
// (a t), XMLTABLE's COLUMNS x t, RETURNING t) may be a relation's row
// type: its values show the relation's column names and types, and
// making one runs the input of each column's type. Every TypeName node
// of the tree comes here (typeName in calls.go), whatever its position.

// typeRelation judges the relation the type name names may stand for.
func (w *walker) typeRelation(names []string) error {
	switch len(names) {
	case 1:
		return w.typeRowType("", names[0])
	case 2:
		return w.typeRowType(names[0], names[1])
	case 3:
		return deny(RuleRelation, fmt.Sprintf("cross-database reference to type %s", strings.Join(names, ".")))
	}
	return deny(RuleNode, fmt.Sprintf("cannot read the type name %s", strings.Join(names, ".")))
}

// typeRowType judges schema.name as a type: the relation whose row type
// it may be, and a catalog row type with reg* fields not at all.
func (w *walker) typeRowType(schema, name string) error {
	if schema == "" || schema == "pg_catalog" {
		for _, n := range typeCandidates(name) {
			if regFieldRowTypes[n] && w.catRels[n] {
				return deny(RuleNode, fmt.Sprintf("the row type of pg_catalog.%s has reg* fields, whose input looks names up in the catalog that the engine cannot judge", n))
			}
		}
	}
	return w.rowType(schema, name)
}

// deniedType judges against the deny list a type name that the online
// catalog does not know as a relation, in one of schemas. The catalog
// leaves out partitions and extensions' relations, which have row types
// all the same.
func (w *walker) deniedType(schemas []string, name string) error {
	if len(schemas) == 1 && strings.HasPrefix(schemas[0], "pg_") && !w.r.schemas[schemas[0]] {
		// pg_toast, pg_temp_N: the catalog lists no relation there.
		return deny(RuleRelation, fmt.Sprintf("schema %s is not readable (type %s)", quoteIdent(schemas[0]), quoteQualified(schemas[0], name)))
	}
	for _, n := range typeCandidates(name) {
		if slices.Contains(w.r.denyAnySchema, n) {
			return deny(RuleRelation, fmt.Sprintf("relation %s is not readable (denied in every schema; named as a type)", quoteIdent(n)))
		}
		for _, s := range schemas {
			if w.r.denyRelations[s+"."+n] {
				return deny(RuleRelation, fmt.Sprintf("relation %s is not readable (named as a type)", quoteQualified(s, n)))
			}
		}
	}
	return nil
}

// regFieldRowTypes are PostgreSQL 15's pg_catalog relations with a
// column of a reg* type or an array of one. TestBuiltinTypesCurrent
// checks the list against a real server.
var regFieldRowTypes = setOf(strings.Fields(`pg_aggregate pg_am pg_amproc pg_conversion pg_operator
	pg_prepared_statements pg_proc pg_range pg_sequences pg_transform pg_ts_parser pg_ts_template pg_type`))

// rowTypeNums are the field numbers the type judgment reads.
type rowTypeNums struct {
	colDef, tableFuncCol         *msgInfo
	colDefType, tableFuncColType int32
}

func newRowTypeNums(l *numLookup) rowTypeNums {
	return rowTypeNums{
		colDef: l.s.byName["ColumnDef"], tableFuncCol: l.s.byName["RangeTableFuncCol"],
		colDefType: l.get("ColumnDef", "type_name"), tableFuncColType: l.get("RangeTableFuncCol", "type_name"),
	}
}

// columnDefType judges the type of a column of a column definition list
// (json_to_record(..) AS x(a regclass)) or of XMLTABLE: the function
// makes the column's values from text it computes, so a reg* type there
// looks computed text up as a name.
func (w *walker) columnDefType(m *msgInfo, b []byte) error {
	num := w.n.rt.colDefType
	switch m {
	case w.n.rt.colDef:
	case w.n.rt.tableFuncCol:
		num = w.n.rt.tableFuncColType
	default:
		return nil
	}
	tn, ok := findBytes(b, num)
	if !ok {
		return nil
	}
	names, err := w.nameList(tn, w.n.typeNames)
	if err != nil || len(names) == 0 || len(names) > 2 || (len(names) == 2 && names[0] != "pg_catalog") {
		return err
	}
	typ, _ := strings.CutPrefix(names[len(names)-1], "_")
	target := regTarget(typ)
	if target == "" {
		return nil
	}
	rule := RuleRelation
	if target == "function" {
		rule = RuleFunction
	}
	return deny(rule, fmt.Sprintf("a %s column of a column definition list reads text the function computes as a %s name, looked up in the catalog at run time", typ, target))
}

// populateFunctions make a value of their first argument's type from
// JSON, running each field's input: the type must be spelled (a cast,
// null::t), so that it is judged; a row of a table (p) may be a catalog
// row type with reg* fields.
var populateFunctions = setOf([]string{"json_populate_record", "json_populate_recordset",
	"jsonb_populate_record", "jsonb_populate_recordset"})

// oidInputFunctions are the input functions that take the OID of the
// type to make (array_in(text, elemtype, typmod)): they run that type's
// input, a reg* element's or field's looking its text up as a name, and
// no spelled type shows which. Naming them ('array_in'::regproc, as
// DataGrip does) stays allowed; calling them is denied.
var oidInputFunctions = setOf([]string{"array_in", "record_in", "domain_in", "range_in", "multirange_in"})

// populateCall denies a call of an input function that takes a type's
// OID, and a populate function whose first argument is not a cast.
func (w *walker) populateCall(name []string, b []byte) error {
	fn := name[len(name)-1]
	if len(name) == 2 && name[0] != "pg_catalog" {
		return nil
	}
	if oidInputFunctions[fn] {
		return deny(RuleFunction, fmt.Sprintf("%s makes a value of the type whose OID it is given, running input the engine cannot judge; write a cast instead", fn))
	}
	if !populateFunctions[fn] {
		return nil
	}
	args := allBytes(b, w.n.fnArgs)
	if len(args) == 0 {
		return nil
	}
	if m, _, err := w.concrete(args[0]); err == nil && m.name == "TypeCast" {
		return nil
	}
	return deny(RuleNode, fmt.Sprintf("%s makes a value of its first argument's type, which must be a cast such as null::t so that the type can be judged", fn))
}
