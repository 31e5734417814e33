package policy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// nameParamsSQL lists every pg_catalog function with a parameter the
// server fills by a catalog name lookup: a parameter of a reg* type (a
// string reaching it goes through the type's input function); a text
// parameter where an overload of the same arity takes an oid (the
// has_*_privilege family, pg_get_viewdef: the text is the object's name);
// the text argument of regclass() and the to_reg* functions, the cstring
// of the reg* input functions, and pg_get_serial_sequence's table. One row
// per function, argument count, position and parameter type.
const nameParamsSQL = `
SELECT DISTINCT p.proname, p.pronargs, a.pos - 1, t.typname
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
CROSS JOIN LATERAL unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(typ, pos)
JOIN pg_catalog.pg_type t ON t.oid = a.typ
WHERE n.nspname = 'pg_catalog' AND p.prokind = 'f'
  AND (t.typname IN ('regclass', 'regproc', 'regprocedure', 'regoper', 'regoperator', 'regtype',
                     'regrole', 'regnamespace', 'regconfig', 'regdictionary', 'regcollation')
       OR (t.typname IN ('text', 'cstring')
           AND (p.proname ~ '^(to_reg.*|reg.*in|regclass)$'
                OR (p.proname = 'pg_get_serial_sequence' AND a.pos = 1)
                OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc q
                           WHERE q.proname = p.proname AND q.pronamespace = p.pronamespace
                             AND q.pronargs = p.pronargs AND q.proargtypes[a.pos - 1] = 'pg_catalog.oid'::pg_catalog.regtype))))
ORDER BY 1, 2, 3`

// reviewedNameParams are name-taking parameters the engine does not
// judge, with the reason. The names they look up are of roles, schemas, operators, text-search configurations, collations, databases
// and the like, which the policy has no rule about; only relations and
// functions are judged by name.
var reviewedNameParams = map[string]string{
	"regrole": "a role name", "regnamespace": "a schema name",
	"regoper": "an operator name", "regoperator": "an operator name", "regconfig": "a text search configuration",
	"regdictionary": "a text search dictionary", "regcollation": "a collation name",
}

// reviewedTextNameFuncs look up a text argument as the name of an object
// that is neither a relation nor a function.
var reviewedTextNameFuncs = map[string]string{
	"has_database_privilege": "a database", "has_foreign_data_wrapper_privilege": "a foreign-data wrapper",
	"has_language_privilege": "a language", "has_schema_privilege": "a schema", "has_server_privilege": "a server",
	"has_tablespace_privilege": "a tablespace", "has_parameter_privilege": "a setting",
	"pg_has_role": "a role", "to_regrole": "a role", "to_regnamespace": "a schema",
	"to_regoper": "an operator", "to_regoperator": "an operator", "to_regcollation": "a collation",
	"regoperin": "an operator", "regoperatorin": "an operator", "regrolein": "a role",
	"regnamespacein": "a schema", "ts_parse": "a text search parser", "ts_token_type": "a text search parser", "regconfigin": "a text search configuration",
	"regdictionaryin": "a text search dictionary", "regcollationin": "a collation",
}

// TestNameParamsModelled reads from a real server every pg_catalog
// function with a parameter filled by a catalog name lookup, and fails
// when the engine allows calling one whose relation or function name
// parameter is not in nameArgs at that position, or whose parameter of
// another name kind is not reviewed. A function a later PostgreSQL adds
// fails it until someone models or reviews it.
func TestNameParamsModelled(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	res, err := conn.Exec(ctx, nameParamsSQL).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t)
	seen, allowed := 0, 0
	for _, row := range res[0].Rows {
		fn, typ := string(row[0]), string(row[3])
		nargs, _ := strconv.Atoi(string(row[1]))
		pos, _ := strconv.Atoi(string(row[2]))
		seen++
		nulls := strings.TrimSuffix(strings.Repeat("NULL, ", nargs), ", ")
		if v := e.Decide(Identity{}, fmt.Sprintf("SELECT pg_catalog.%s(%s)", quoteIdent(fn), nulls)); !v.Allowed {
			continue
		}
		allowed++
		kind := regTarget(typ)
		switch {
		case kind != "":
		case typ == "text" || typ == "cstring":
			if _, ok := reviewedTextNameFuncs[fn]; ok {
				continue
			}
			kind = "relation"
			switch {
			case strings.Contains(fn, "function") || strings.Contains(fn, "proc"):
				kind = "function"
			case strings.Contains(fn, "type"):
				kind = "type" // a relation's row type is a type
			}
		default:
			if _, ok := reviewedNameParams[typ]; !ok {
				t.Errorf("%s/%d: parameter %d of type %s is neither modelled nor reviewed", fn, nargs, pos, typ)
			}
			continue
		}
		if !modelled(fn, nargs, pos, kind) {
			t.Errorf("%s/%d: parameter %d (%s) names a %s but is not in nameArgs", fn, nargs, pos, typ, kind)
		}
	}
	if seen < 100 || allowed < 50 {
		t.Errorf("read %d name parameters, %d of allowed functions; is the query still reading the catalog?", seen, allowed)
	}
}

func modelled(fn string, nargs, pos int, kind string) bool {
	for _, a := range nameArgs[fmt.Sprintf("%s/%d", fn, nargs)] {
		if a.pos == pos && a.kind == kind {
			return true
		}
	}
	return false
}
