package policy

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzDecide asserts that Decide never panics and never allows a text
// whose parse tree, decoded independently by pg_query.Parse, holds a node
// kind, function or statement count the readonly profile denies.
func FuzzDecide(f *testing.F) {
	for _, c := range hostile {
		f.Add(c.sql)
	}
	for _, sql := range legit {
		f.Add(sql)
	}
	e, err := New(Options{CacheSize: 1})
	if err != nil {
		f.Fatal(err)
	}
	deny := newNameSet(builtinDenyFunctions())
	f.Fuzz(func(t *testing.T, sql string) {
		v := e.Decide(Identity{}, sql)
		if !v.Allowed {
			if v.Rule == "" || v.SQLState == "" || !strings.HasPrefix(v.Err().Error(), "pgmoat: ") {
				t.Fatalf("denial without rule or SQLSTATE: %+v", v)
			}
			return
		}
		tree, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatalf("allowed text pg_query cannot parse: %q: %v", sql, err)
		}
		if n := len(tree.Stmts); n != 1 {
			t.Fatalf("allowed %d statements in %q", n, sql)
		}
		if v.Kind == KindClientSetting {
			// The one allowed statement that is not a query: a SET of a
			// listed setting, whose value the door keeps itself.
			set := tree.Stmts[0].Stmt.GetVariableSetStmt()
			if set == nil || set.IsLocal || v.Setting == nil || clientSettings[strings.ToLower(set.Name)].name != v.Setting.Name {
				t.Fatalf("allowed %q as client setting %+v", sql, v.Setting)
			}
			return
		}
		if bad := forbiddenIn(tree.ProtoReflect(), deny); bad != "" {
			t.Fatalf("allowed %q although its tree holds %s", sql, bad)
		}
		if v.Rewritten != "" {
			again := e.Decide(Identity{}, v.Rewritten)
			if !again.Allowed || again.Rewritten != "" {
				t.Fatalf("rewrite %q of %q decides %+v", v.Rewritten, sql, again)
			}
		}
	})
}

// forbiddenIn walks a decoded tree with protobuf reflection, apart from
// the engine's own wire walker, and names the first forbidden thing.
func forbiddenIn(m protoreflect.Message, deny nameSet) string {
	name := string(m.Descriptor().Name())
	switch {
	case strings.HasSuffix(name, "Stmt") && name != "SelectStmt" && name != "ExplainStmt" &&
		name != "VariableShowStmt" && name != "TransactionStmt" && name != "RawStmt":
		return name
	case name == "IntoClause" || name == "LockingClause":
		return name
	case name == "TransactionStmt":
		k := m.Get(m.Descriptor().Fields().ByName("kind")).Enum()
		if k < protoreflect.EnumNumber(pg_query.TransactionStmtKind_TRANS_STMT_BEGIN) || k > protoreflect.EnumNumber(pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK) {
			return "transaction statement kind " + string(rune('0'+k))
		}
	case name == "FuncCall":
		list := m.Get(m.Descriptor().Fields().ByName("funcname")).List()
		last := list.Get(list.Len() - 1).Message().Interface().(*pg_query.Node).GetString_().GetSval()
		if deny.has(last) {
			return "function " + last
		}
	case name == "RangeVar":
		rel := m.Get(m.Descriptor().Fields().ByName("relname")).String()
		if rel == "pg_authid" || rel == "pg_shadow" || rel == "pg_statistic" {
			// Only qualified names: an unqualified one may name a CTE.
			if m.Get(m.Descriptor().Fields().ByName("schemaname")).String() == "pg_catalog" {
				return "relation " + rel
			}
		}
	}
	bad := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len() && bad == ""; i++ {
				bad = forbiddenIn(v.List().Get(i).Message(), deny)
			}
		} else {
			bad = forbiddenIn(v.Message(), deny)
		}
		return bad == ""
	})
	return bad
}

// rangeMessages calls fn on every message directly inside m.
func rangeMessages(m protoreflect.Message, fn func(proto.Message)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				fn(v.List().Get(i).Message().Interface())
			}
			return true
		}
		fn(v.Message().Interface())
		return true
	})
}
