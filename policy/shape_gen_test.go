package policy

import (
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
)

var shapeGenRounds = flag.Int("shape.rounds", 150, "statements TestShapeGenerated builds")

// shapeExprs are expression forms with holes for constants: I an
// integer, S a string, D a decimal, B a big integer, E another
// expression. Each puts a constant where the grammar, a rule or the
// deparser might treat its value specially.
var shapeExprs = []string{
	"I", "S", "D", "B", "a", "t.a", "(E)", "E + E", "E - E", "E * E", "E / E", "E % E", "- E", "+ E",
	"E = E", "E <> E", "E != E", "E < E", "E >= E", "E AND E", "E OR E", "NOT E",
	"E IS NULL", "E IS NOT NULL", "E IS TRUE", "E IS DISTINCT FROM E", "E BETWEEN E AND E", "E NOT BETWEEN E AND E",
	"E BETWEEN SYMMETRIC E AND E", "E IN (E, E)", "E NOT IN (E)", "E LIKE S", "E NOT ILIKE S", "E LIKE S ESCAPE S",
	"E SIMILAR TO S", "E = ANY (ARRAY[E, E])", "E = ANY (S)", "ARRAY[E, E]", "(ARRAY[E])[I]", "ROW(E, E)", "(E, E)",
	"CASE WHEN E THEN E ELSE E END", "CASE E WHEN E THEN E END", "COALESCE(E, E)", "NULLIF(E, E)",
	"GREATEST(E, E)", "LEAST(E, E)", "E::int", "E::text", "E::numeric(10, 2)", "E::varchar(I)", "CAST(E AS bigint)",
	"S::date", "date S", "timestamp S", "interval S", "interval S day", "interval S hour to minute", "time(I) S",
	"boolean S", "S::bool", "S::pg_catalog.bool", "char S", "point S", "S::int[]", "int4 S", "float(I) S",
	"S::regclass", "regtype S", "I::regclass", "S::jsonb", "S::json -> I", "lower(E)", "upper(S)", "length(E)",
	"substring(S FROM I FOR I)", "substring(S, I)", "position(S IN S)", "trim(both S FROM S)", "overlay(S PLACING S FROM I FOR I)",
	"pg_catalog.overlay(S, S, I, I)", "EXTRACT(year FROM now())", "EXTRACT(S FROM now())", "now() AT TIME ZONE S",
	"normalize(S, NFC)", "S IS NFC NORMALIZED", "abs(E)", "round(D, I)", "generate_series(I, I)", "format(S, E)",
	"count(*)", "sum(E)", "count(*) FILTER (WHERE E)", "percentile_cont(D) WITHIN GROUP (ORDER BY a)",
	"sum(a) OVER (ORDER BY a ROWS BETWEEN I PRECEDING AND CURRENT ROW)", "row_number() OVER (PARTITION BY E)",
	"(SELECT E)", "(SELECT a FROM t LIMIT I)", "EXISTS (SELECT 1 FROM t WHERE a = E)", "E IN (SELECT a FROM t WHERE b = E)",
	"current_setting(S)", "pg_sleep(I)", "pg_read_file(S)", "set_config(S, S, false)", "to_regclass(S)",
	"S COLLATE \"C\"", "xmlelement(name x, S)", "xmlparse(document S)", "jsonb_path_query(S, S)", "E::bit(I)",
	"CURRENT_TIMESTAMP(I)", "CURRENT_DATE", "(E).f", "t.a.b", `"T"."c"`, "a[I]", "DISTINCT_NOT_A_FN(E)",
}

// shapeTails are what may follow the WHERE clause.
var shapeTails = []string{
	"", "LIMIT I", "LIMIT I OFFSET I", "OFFSET I LIMIT I", "OFFSET I", "LIMIT ALL", "LIMIT NULL", "LIMIT E",
	"LIMIT LEAST(I, I)", "LIMIT (I)", "LIMIT S", "LIMIT D", "LIMIT B", "FETCH FIRST I ROWS ONLY",
	"FETCH FIRST (E) ROWS ONLY", "OFFSET I ROWS FETCH NEXT I ROWS ONLY", "ORDER BY I", "ORDER BY E DESC LIMIT I",
	"GROUP BY I HAVING E", "ORDER BY a FETCH FIRST I ROWS WITH TIES", "FOR UPDATE", "UNION SELECT E LIMIT I",
	"UNION ALL (SELECT E LIMIT I)", "TABLESAMPLE", "WINDOW", "; SELECT E", "; SELECT E LIMIT I",
}

func genConst(rnd *rand.Rand, kind byte) string {
	pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
	switch kind {
	case 'I':
		return pick("0", "1", "5", "10", "11", "42", "1000", "1001", "2147483647", "007")
	case 'S':
		return pick("''", "'a'", "'t'", "'f'", "'1'", "'pg_authid'", "'it''s'", "'2020-01-01'", "'{1}'", "'(1,2)'", "'$.a'", "'%'", "'1 day'", "'Pg''00000M'")
	case 'D':
		return pick("0.5", "1.5", ".5", "5.", "10.0")
	}
	return pick("2147483648", "9223372036854775808", "99999999999")
}

func genExpr(rnd *rand.Rand, depth int) string {
	form := shapeExprs[rnd.IntN(len(shapeExprs))]
	if depth > 3 {
		form = shapeExprs[rnd.IntN(5)]
	}
	var b strings.Builder
	for i := 0; i < len(form); i++ {
		c := form[i]
		// A hole is a capital letter standing alone.
		alone := (i == 0 || !isLetter(form[i-1])) && (i+1 == len(form) || !isLetter(form[i+1]) && !isDigit(form[i+1]))
		switch {
		case alone && c == 'E':
			b.WriteString(genExpr(rnd, depth+1))
		case alone && (c == 'I' || c == 'S' || c == 'D' || c == 'B'):
			b.WriteString(genConst(rnd, c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func genStatement(rnd *rand.Rand) string {
	var b strings.Builder
	if rnd.IntN(8) == 0 {
		b.WriteString("EXPLAIN ")
	}
	b.WriteString("SELECT ")
	for i, n := 0, 1+rnd.IntN(3); i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(genExpr(rnd, 0))
	}
	from := []string{" FROM t", " FROM t", " FROM t AS x", " FROM (SELECT a FROM t LIMIT I) s", " FROM generate_series(I, I) g", " FROM pg_class", " FROM t JOIN u ON t.a = u.a", ""}[rnd.IntN(8)]
	tail := shapeTails[rnd.IntN(len(shapeTails))]
	if tail == "TABLESAMPLE" {
		from, tail = " FROM t TABLESAMPLE system (I) REPEATABLE (I)", ""
	}
	if tail == "WINDOW" {
		from, tail = " FROM t", "WINDOW w AS (ORDER BY a ROWS I PRECEDING)"
	}
	b.WriteString(from)
	if from != "" && rnd.IntN(2) == 0 {
		b.WriteString(" WHERE " + genExpr(rnd, 1))
	}
	if tail != "" {
		b.WriteString(" " + tail)
	}
	// Fill the holes of the FROM clause and the tail.
	s := b.String()
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		alone := (i == 0 || !isLetter(s[i-1]) && s[i-1] != '\'') && (i+1 == len(s) || !isLetter(s[i+1]) && !isDigit(s[i+1]) && s[i+1] != '\'')
		if alone && (c == 'I' || c == 'S' || c == 'D' || c == 'B' || c == 'E') {
			if c == 'E' {
				out.WriteString(genConst(rnd, 'I'))
			} else {
				out.WriteString(genConst(rnd, c))
			}
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}

// TestShapeGenerated builds statements from expression forms that put
// constants in every context the shape cache must handle and runs the
// differential check on each: the shape cache answers as the full
// judgment does. -shape.rounds sets how many (the default keeps go test
// quick; thousands make a search).
func TestShapeGenerated(t *testing.T) {
	rnd := rand.New(rand.NewPCG(uint64(*shapeGenRounds), 11))
	var hits, accepted uint64
	for i := 0; i < *shapeGenRounds; i++ {
		sql := genStatement(rnd)
		if _, ok := scanShape(sql, false); !ok {
			continue
		}
		accepted++
		hits += checkShapeDifferential(t, sql, uint64(i))
	}
	t.Logf("%d statements, %d in the recognizer's subset, %d shape hits", *shapeGenRounds, accepted, hits)
	if hits < accepted {
		t.Fatalf("only %d shape hits over %d statements", hits, accepted)
	}
}
