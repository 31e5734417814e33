package policy

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"
	"google.golang.org/protobuf/proto"
)

// sameTree fails t when the transcoded JSON tree differs from the C
// parser's own protobuf tree (negative integers aside, which the JSON
// loses and the engine handles).
func sameTree(t testing.TB, s *schema, sql string) {
	t.Helper()
	n, err := newNums(s)
	if err != nil {
		t.Fatal(err)
	}
	if checkInput(sql, DefaultMaxStatementBytes, &n) != nil {
		return
	}
	js, err := pg_query.ParseToJSON(sql)
	if err != nil {
		return
	}
	pb, lossy, err := s.jsonToProtobuf(sql, js, DefaultMaxDepth)
	if err != nil {
		if _, ok := err.(*denial); ok {
			return // too deep: denied, never walked
		}
		t.Fatalf("transcode %q: %v", sql, err)
	}
	exact, err := parser.ParseToProtobuf(sql)
	if err != nil {
		t.Fatalf("%q: JSON parsed but protobuf did not: %v", sql, err)
	}
	var got, want pg_query.ParseResult
	if err := proto.Unmarshal(pb, &got); err != nil {
		t.Fatalf("%q: transcoded bytes do not decode: %v", sql, err)
	}
	if err := proto.Unmarshal(exact, &want); err != nil {
		t.Fatal(err)
	}
	if lossy {
		zeroIntegers(want.ProtoReflect().Interface())
	}
	if !proto.Equal(&got, &want) {
		t.Fatalf("%q: transcoded tree differs from the C parser's", sql)
	}
}

// zeroIntegers sets every Integer value to 0 the way the JSON writer
// loses negative ones, so the rest of a lossy tree can still be compared.
func zeroIntegers(m proto.Message) {
	if i, ok := m.(*pg_query.Integer); ok && i.Ival < 0 {
		i.Ival = 0
	}
	rangeMessages(m.ProtoReflect(), zeroIntegers)
}

func TestTranscodedTreeMatchesParser(t *testing.T) {
	s, err := newSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range hostile {
		sameTree(t, s, c.sql)
	}
	for _, sql := range legit {
		sameTree(t, s, sql)
	}
	_, queries := psqlMeta(t)
	for _, sql := range queries {
		sameTree(t, s, sql)
	}
	for _, sql := range []string{
		"select -3, - 4, -(5), 1 - -6 limit -1",
		`select E'\u00e9\U0001F600\t"q"\\', U&'\0041', $$\$$, 'it''s'`,
		"select 1e300, -1.5, x'ff', b'101', true, false, null",
		"create table t (a int default -1, b numeric(10, 2))",
		"explain (analyze -1) select 1",
	} {
		sameTree(t, s, sql)
	}
}

func TestLostNegativesAreFlagged(t *testing.T) {
	s, err := newSchema()
	if err != nil {
		t.Fatal(err)
	}
	for sql, want := range map[string]bool{
		"select * from t where a > 0 offset 0": false,
		"select 1, 00, 0x0, 0.5":               false,
		"select -3":                            true,
		"select - 0":                           true,
		"select a from t where a > -1 limit 5": true,
		"select 1 limit 10":                    false,
	} {
		js, err := pg_query.ParseToJSON(sql)
		if err != nil {
			t.Fatal(err)
		}
		if _, lossy, err := s.jsonToProtobuf(sql, js, DefaultMaxDepth); err != nil || lossy != want {
			t.Errorf("%q: lossy %v, %v; want %v", sql, lossy, err, want)
		}
	}
	// A rewrite of a tree with a lost negative comes from the exact tree.
	e := newTestEngine(t)
	v := e.Decide(Identity{}, "select a from t where a > -1")
	if v.Rewritten != "SELECT a FROM t WHERE a > -1 LIMIT 1000" {
		t.Fatalf("rewritten %q", v.Rewritten)
	}
}

func FuzzTranscode(f *testing.F) {
	for _, sql := range legit {
		f.Add(sql)
	}
	s, err := newSchema()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sql string) { sameTree(t, s, sql) })
}
