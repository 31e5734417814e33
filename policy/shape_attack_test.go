package policy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// shapeAttacks are sequences of texts of one shape, sent in order to a
// warm engine: the first ones teach the shape and a variant, the last
// ones are the texts an attacker would want answered from what was
// learnt (a value that names an object, crosses max_rows, collides with a
// sentinel, or changes how the text lexes or parses). Every answer must
// be the full judgment's.
var shapeAttacks = []struct {
	name  string
	texts []string
}{
	// Constants that decide the LIMIT rewrite, in every spelling.
	{"limit least first arg", []string{"SELECT * FROM t LIMIT LEAST(5, 10)", "SELECT * FROM t LIMIT LEAST(5, 11)", "SELECT * FROM t LIMIT LEAST(5, 12)", "SELECT * FROM t LIMIT LEAST(5, 99999)", "SELECT * FROM t LIMIT LEAST(5000, 12)"}},
	{"limit least over max", []string{"SELECT * FROM t LIMIT LEAST(50, 1)", "SELECT * FROM t LIMIT LEAST(50, 2)", "SELECT * FROM t LIMIT LEAST(50, 3)", "SELECT * FROM t LIMIT LEAST(50, 99999)"}},
	{"limit sum", []string{"SELECT * FROM t LIMIT 5 + 1", "SELECT * FROM t LIMIT 5 + 2", "SELECT * FROM t LIMIT 5 + 3", "SELECT * FROM t LIMIT 5000 + 5000"}},
	{"limit parenthesized", []string{"SELECT * FROM t LIMIT (5)", "SELECT * FROM t LIMIT (6)", "SELECT * FROM t LIMIT (7)", "SELECT * FROM t LIMIT (5000)"}},
	{"limit string", []string{"SELECT * FROM t LIMIT '5'", "SELECT * FROM t LIMIT '6'", "SELECT * FROM t LIMIT '7'", "SELECT * FROM t LIMIT '5000'"}},
	{"limit cast", []string{"SELECT * FROM t LIMIT 5::int", "SELECT * FROM t LIMIT 6::int", "SELECT * FROM t LIMIT 7::int", "SELECT * FROM t LIMIT 5000::int"}},
	{"limit decimal", []string{"SELECT * FROM t LIMIT 5.5", "SELECT * FROM t LIMIT 6.5", "SELECT * FROM t LIMIT 7.5", "SELECT * FROM t LIMIT 5000.5"}},
	{"limit negated", []string{"SELECT * FROM t LIMIT - 5", "SELECT * FROM t LIMIT - 6", "SELECT * FROM t LIMIT - 7", "SELECT * FROM t LIMIT -(5000)"}},
	{"limit negated parens", []string{"SELECT * FROM t LIMIT -(5)", "SELECT * FROM t LIMIT -(6)", "SELECT * FROM t LIMIT -(7)", "SELECT * FROM t LIMIT -(5000)"}},
	{"limit zero", []string{"SELECT * FROM t LIMIT 0", "SELECT * FROM t LIMIT 00", "SELECT * FROM t LIMIT 1", "SELECT * FROM t LIMIT 010", "SELECT * FROM t LIMIT 0011"}},
	{"limit int4 edge", []string{"SELECT * FROM t LIMIT 2147483647", "SELECT * FROM t LIMIT 2147483646", "SELECT * FROM t LIMIT 2147483645", "SELECT * FROM t LIMIT 02147483647"}},
	{"limit int8", []string{"SELECT * FROM t LIMIT 2147483648", "SELECT * FROM t LIMIT 2147483649", "SELECT * FROM t LIMIT 9223372036854775807", "SELECT * FROM t LIMIT 9223372036854775808"}},
	{"fetch parenthesized", []string{"SELECT * FROM t FETCH FIRST (5) ROWS ONLY", "SELECT * FROM t FETCH FIRST (6) ROWS ONLY", "SELECT * FROM t FETCH FIRST (7) ROWS ONLY", "SELECT * FROM t FETCH FIRST (5000) ROWS ONLY"}},
	{"fetch string", []string{"SELECT * FROM t FETCH FIRST '5' ROWS ONLY", "SELECT * FROM t FETCH FIRST '6' ROWS ONLY", "SELECT * FROM t FETCH FIRST '7' ROWS ONLY", "SELECT * FROM t FETCH FIRST '5000' ROWS ONLY"}},
	{"fetch plus", []string{"SELECT * FROM t FETCH FIRST +5 ROWS ONLY", "SELECT * FROM t FETCH FIRST +6 ROWS ONLY", "SELECT * FROM t FETCH FIRST +7 ROWS ONLY", "SELECT * FROM t FETCH FIRST +5000 ROWS ONLY"}},
	{"fetch minus", []string{"SELECT * FROM t FETCH FIRST -5 ROWS ONLY", "SELECT * FROM t FETCH FIRST -6 ROWS ONLY", "SELECT * FROM t FETCH FIRST -7 ROWS ONLY", "SELECT * FROM t FETCH FIRST -5000 ROWS ONLY"}},
	{"fetch next row", []string{"SELECT * FROM t OFFSET 1 ROWS FETCH NEXT 50 ROWS ONLY", "SELECT * FROM t OFFSET 2 ROWS FETCH NEXT 50 ROWS ONLY", "SELECT * FROM t OFFSET 3 ROWS FETCH NEXT 50 ROWS ONLY", "SELECT * FROM t OFFSET 4 ROWS FETCH NEXT 5 ROWS ONLY"}},
	{"fetch with ties", []string{"SELECT * FROM t ORDER BY a FETCH FIRST 1 ROWS WITH TIES", "SELECT * FROM t ORDER BY a FETCH FIRST 2 ROWS WITH TIES", "SELECT * FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES"}},
	{"nested limit", []string{"SELECT * FROM (SELECT * FROM t LIMIT 5) s", "SELECT * FROM (SELECT * FROM t LIMIT 6) s", "SELECT * FROM (SELECT * FROM t LIMIT 7) s", "SELECT * FROM (SELECT * FROM t LIMIT 5000) s"}},
	{"parenthesized select", []string{"(SELECT * FROM t LIMIT 5)", "(SELECT * FROM t LIMIT 6)", "(SELECT * FROM t LIMIT 7)", "(SELECT * FROM t LIMIT 5000)"}},
	{"union branch limit", []string{"SELECT 1 UNION (SELECT 2 LIMIT 5)", "SELECT 1 UNION (SELECT 2 LIMIT 6)", "SELECT 1 UNION (SELECT 2 LIMIT 7)", "SELECT 1 UNION (SELECT 2 LIMIT 5000)"}},
	{"cte limit", []string{"WITH c AS (SELECT 1) SELECT * FROM c LIMIT 5", "WITH c AS (SELECT 1) SELECT * FROM c LIMIT 6", "WITH c AS (SELECT 1) SELECT * FROM c LIMIT 7", "WITH c AS (SELECT 1) SELECT * FROM c LIMIT 5000"}},
	{"offset free, sentinel", []string{"SELECT * FROM t LIMIT 5 OFFSET 1", "SELECT * FROM t LIMIT 5 OFFSET 2", "SELECT * FROM t LIMIT 5 OFFSET 3", "SELECT * FROM t LIMIT 5 OFFSET 1987600000", "SELECT * FROM t LIMIT 5 OFFSET 2147483647"}},
	{"offset rewrite, sentinel", []string{"SELECT * FROM t LIMIT 50 OFFSET 1", "SELECT * FROM t LIMIT 50 OFFSET 2", "SELECT * FROM t LIMIT 50 OFFSET 3", "SELECT * FROM t LIMIT 50 OFFSET 1987600000", "SELECT * FROM t LIMIT 50 OFFSET 0"}},
	{"same value twice", []string{"SELECT * FROM t WHERE a = 5 LIMIT 5 OFFSET 5", "SELECT * FROM t WHERE a = 6 LIMIT 5 OFFSET 6", "SELECT * FROM t WHERE a = 7 LIMIT 5 OFFSET 7", "SELECT * FROM t WHERE a = 5 LIMIT 5 OFFSET 5"}},

	// Sentinel collisions: real constants equal to a probe's values.
	{"int sentinel pinned twice", []string{"SELECT 1 WHERE 1987600000 = 1", "SELECT 2 WHERE 1987600000 = 1", "SELECT 3 WHERE 1987600000 = 1", "SELECT 1987600000 WHERE 1987600000 = 1"}},
	{"string sentinel", []string{"SELECT * FROM t WHERE a = 'Pg''00000M' LIMIT 50", "SELECT * FROM t WHERE a = 'b' LIMIT 50", "SELECT * FROM t WHERE a = 'c' LIMIT 50", "SELECT * FROM t WHERE a = 'Pg''00000M' LIMIT 50"}},
	{"sentinel inside a string", []string{"SELECT a FROM t WHERE b = 'x 1987600000 y' AND c = 1 LIMIT 50", "SELECT a FROM t WHERE b = 'x 1987600000 y' AND c = 2 LIMIT 50", "SELECT a FROM t WHERE b = 'x 1987600000 y' AND c = 3 LIMIT 50", "SELECT a FROM t WHERE b = 'x 1987600000 y' AND c = 1987600000 LIMIT 50"}},
	{"sentinel in identifiers", []string{`SELECT 1 AS "1987600000", 2 AS a1987600001 FROM t`, `SELECT 3 AS "1987600000", 4 AS a1987600001 FROM t`, `SELECT 5 AS "1987600000", 6 AS a1987600001 FROM t`, `SELECT 7 AS "1987600000", 8 AS a1987600001 FROM t`}},
	{"decimal sentinel", []string{"SELECT * FROM t WHERE a = 1.5", "SELECT * FROM t WHERE a = 2.5", "SELECT * FROM t WHERE a = 3.5", "SELECT * FROM t WHERE a = 1987700000.25", "SELECT * FROM t WHERE a = 0.0", "SELECT * FROM t WHERE a = .0", "SELECT * FROM t WHERE a = 5."}},
	{"bigint sentinel", []string{"SELECT * FROM t WHERE x = 9223372036854775807", "SELECT * FROM t WHERE x = 9223372036854775806", "SELECT * FROM t WHERE x = 98765432100000", "SELECT * FROM t WHERE x = 9223372036854775808", "SELECT * FROM t WHERE x = 00000000000000000000000000001"}},

	// Multi-statement texts.
	{"select then select", []string{"SELECT 1; SELECT * FROM t", "SELECT 2; SELECT * FROM t", "SELECT 3; SELECT * FROM t", "SELECT 4; SELECT * FROM t"}},
	{"limit in second statement", []string{"SELECT 1; SELECT * FROM t LIMIT 5", "SELECT 2; SELECT * FROM t LIMIT 5", "SELECT 3; SELECT * FROM t LIMIT 5", "SELECT 4; SELECT * FROM t LIMIT 5000"}},
	{"begin read only", []string{"BEGIN READ ONLY; SELECT * FROM t WHERE a = 1; COMMIT", "BEGIN READ ONLY; SELECT * FROM t WHERE a = 2; COMMIT", "BEGIN READ ONLY; SELECT * FROM t WHERE a = 3; COMMIT", "BEGIN READ ONLY; SELECT * FROM t WHERE a = 4; COMMIT"}},
	{"write after select", []string{"SELECT 1; DELETE FROM t WHERE a = 1", "SELECT 2; DELETE FROM t WHERE a = 2", "SELECT 3; DELETE FROM t WHERE a = 3"}},

	// Values that name objects or settings, or pick a type.
	{"implicit regclass argument", []string{"SELECT pg_relation_size('x')", "SELECT pg_relation_size('y')", "SELECT pg_relation_size('z')", "SELECT pg_relation_size('pg_authid')"}},
	{"regclass array spelling", []string{"SELECT '{a}'::_regclass", "SELECT '{b}'::_regclass", "SELECT '{c}'::_regclass", "SELECT '{pg_authid}'::_regclass"}},
	{"regclass array", []string{"SELECT '{a}'::regclass[]", "SELECT '{b}'::regclass[]", "SELECT '{c}'::regclass[]", "SELECT '{pg_authid}'::regclass[]"}},
	{"quoted regclass", []string{`SELECT 'a'::"regclass"`, `SELECT 'b'::"regclass"`, `SELECT 'c'::"regclass"`, `SELECT 'pg_authid'::"regclass"`}},
	{"qualified regclass", []string{"SELECT 'a'::pg_catalog.regclass", "SELECT 'b'::pg_catalog.regclass", "SELECT 'c'::pg_catalog.regclass", "SELECT 'pg_authid'::pg_catalog.regclass"}},
	{"cast regproc", []string{"SELECT CAST('a' AS regproc)", "SELECT CAST('b' AS regproc)", "SELECT CAST('c' AS regproc)", "SELECT CAST('pg_read_file' AS regproc)"}},
	{"regclass through text", []string{"SELECT 'a'::text::regclass", "SELECT 'b'::text::regclass", "SELECT 'c'::text::regclass", "SELECT 'pg_authid'::text::regclass"}},
	{"regclass typed literal", []string{"SELECT regclass 'a'", "SELECT regclass 'b'", "SELECT regclass 'c'", "SELECT regclass 'pg_authid'"}},
	{"current_setting", []string{"SELECT current_setting('a') FROM t", "SELECT current_setting('b') FROM t", "SELECT current_setting('c') FROM t", "SELECT current_setting('is_superuser') FROM t"}},
	{"set_config", []string{"SELECT set_config('a.b', 'x', false)", "SELECT set_config('a.c', 'y', false)", "SELECT set_config('a.d', 'z', false)", "SELECT set_config('role', 'postgres', false)"}},
	{"pg_read_file", []string{"SELECT pg_read_file('a')", "SELECT pg_read_file('b')", "SELECT pg_read_file('c')", "SELECT pg_read_file('/etc/passwd')"}},
	{"view definition by name", []string{"SELECT pg_get_viewdef('a')", "SELECT pg_get_viewdef('b')", "SELECT pg_get_viewdef('c')", "SELECT pg_get_viewdef('pg_authid')"}},
	{"view definition by text", []string{"SELECT pg_get_viewdef('a'::text, true)", "SELECT pg_get_viewdef('b'::text, true)", "SELECT pg_get_viewdef('pg_roles'::text, true)", "SELECT pg_get_viewdef('pg_authid'::text, true)"}},
	{"serial sequence", []string{"SELECT pg_get_serial_sequence('a', 'c')", "SELECT pg_get_serial_sequence('b', 'c')", "SELECT pg_get_serial_sequence('c', 'c')", "SELECT pg_get_serial_sequence('pg_authid', 'c')"}},
	{"regclass ARRAY", []string{"SELECT ARRAY['a']::regclass[]", "SELECT ARRAY['b']::regclass[]", "SELECT ARRAY['c']::regclass[]", "SELECT ARRAY['pg_authid']::regclass[]"}},
	{"field selection regclass argument", []string{"SELECT ('a').pg_relation_size", "SELECT ('b').pg_relation_size", "SELECT ('c').pg_relation_size", "SELECT ('pg_authid').pg_relation_size"}},
	{"has privilege", []string{"SELECT has_table_privilege('a', 'select')", "SELECT has_table_privilege('b', 'select')", "SELECT has_table_privilege('c', 'select')", "SELECT has_table_privilege('pg_authid', 'select')"}},
	{"field selection current_setting", []string{"SELECT ('a').current_setting", "SELECT ('b').current_setting", "SELECT ('c').current_setting", "SELECT ('is_superuser').current_setting"}},
	{"json path", []string{"SELECT jsonb_path_query('{}', '$.a')", "SELECT jsonb_path_query('{}', '$.b')", "SELECT jsonb_path_query('{}', '$.c')", "SELECT jsonb_path_query('{}', '$.a.datetime()')"}},
	{"xmlparse", []string{"SELECT xmlparse(document '<a/>')", "SELECT xmlparse(document '<b/>')", "SELECT xmlparse(document '<c/>')", `SELECT xmlparse(document '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>')`}},
	{"format", []string{"SELECT format('%I', 'a')", "SELECT format('%I', 'b')", "SELECT format('%I', 'c')", "SELECT format('%s', 'd')"}},
	{"like pattern", []string{"SELECT 'a' LIKE 'b'", "SELECT 'a' LIKE 'c'", "SELECT 'a' LIKE 'd'", "SELECT 'a' LIKE '%'"}},
	{"similar escape", []string{"SELECT 'a' SIMILAR TO 'b' ESCAPE 'c'", "SELECT 'a' SIMILAR TO 'd' ESCAPE 'e'", "SELECT 'a' SIMILAR TO 'f' ESCAPE 'g'", "SELECT 'a' SIMILAR TO '%' ESCAPE ''''"}},
	{"boolean literal", []string{"SELECT 'x'::pg_catalog.bool", "SELECT 'y'::pg_catalog.bool", "SELECT 'n'::pg_catalog.bool", "SELECT 't'::pg_catalog.bool", "SELECT 'f'::pg_catalog.bool"}},
	{"boolean typed literal", []string{"SELECT boolean 'x'", "SELECT boolean 'y'", "SELECT boolean 'n'", "SELECT boolean 't'", "SELECT boolean 'f'"}},
	{"bpchar literal", []string{"SELECT char 'x' LIMIT 50", "SELECT char 'y' LIMIT 50", "SELECT char 'n' LIMIT 50", "SELECT char 't' LIMIT 50"}},
	{"point literal", []string{"SELECT point '(1,2)' FROM t", "SELECT point '(1,3)' FROM t", "SELECT point '(1,4)' FROM t", "SELECT point '(1,5)' FROM t"}},
	{"interval field", []string{"SELECT interval '1' day", "SELECT interval '2' day", "SELECT interval '3' day", "SELECT interval '4 years' day"}},
	{"interval precision", []string{"SELECT interval(1) '1'", "SELECT interval(2) '1'", "SELECT interval(3) '1'", "SELECT interval(6) '2'"}},
	{"timestamp special values", []string{"SELECT timestamp 'now'", "SELECT timestamp 'today'", "SELECT timestamp 'epoch'", "SELECT timestamp '2020-01-01'"}},
	{"timestamp precision", []string{"SELECT timestamp(1) '2020-01-01'", "SELECT timestamp(2) '2020-01-01'", "SELECT timestamp(3) '2020-01-01'", "SELECT timestamp(6) '2020-01-02'"}},
	{"float precision", []string{"SELECT float(1) '1.5'", "SELECT float(24) '1.5'", "SELECT float(25) '1.5'", "SELECT float(53) '2.5'"}},
	{"varchar typmod literal", []string{"SELECT varchar(1) 'a'", "SELECT varchar(2) 'a'", "SELECT varchar(3) 'a'", "SELECT varchar(3) 'abcdef'"}},
	{"array bound", []string{"SELECT '{1}'::int[1]", "SELECT '{1}'::int[2]", "SELECT '{1}'::int[3]", "SELECT '{1,2}'::int[3]"}},
	{"current_timestamp precision", []string{"SELECT CURRENT_TIMESTAMP(1)", "SELECT CURRENT_TIMESTAMP(2)", "SELECT CURRENT_TIMESTAMP(3)", "SELECT CURRENT_TIMESTAMP(6)"}},
	{"tablesample", []string{"SELECT * FROM t TABLESAMPLE system (1) REPEATABLE (1)", "SELECT * FROM t TABLESAMPLE system (2) REPEATABLE (2)", "SELECT * FROM t TABLESAMPLE system (3) REPEATABLE (3)", "SELECT * FROM t TABLESAMPLE system (4) REPEATABLE (4)"}},
	{"window frame offsets", []string{"SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t", "SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM t", "SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING) FROM t", "SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 0 PRECEDING AND 0 FOLLOWING) FROM t"}},
	{"order by position", []string{"SELECT a FROM t ORDER BY 1", "SELECT a FROM t ORDER BY 2", "SELECT a FROM t ORDER BY 3", "SELECT a FROM t ORDER BY 0"}},
	{"group by position", []string{"SELECT a, count(*) FROM t GROUP BY 1", "SELECT a, count(*) FROM t GROUP BY 2", "SELECT a, count(*) FROM t GROUP BY 3", "SELECT a, count(*) FROM t GROUP BY 0"}},
	{"explicit overlay", []string{"SELECT pg_catalog.overlay('abc', 'x', 2, 1)", "SELECT pg_catalog.overlay('abd', 'y', 3, 1)", "SELECT pg_catalog.overlay('abe', 'z', 4, 1)", "SELECT pg_catalog.overlay('abf', '', 0, 0)"}},
	{"explicit normalize", []string{"SELECT pg_catalog.normalize('a', 'NFC')", "SELECT pg_catalog.normalize('b', 'NFD')", "SELECT pg_catalog.normalize('c', 'NFKC')", "SELECT pg_catalog.normalize('d', 'x')"}},
	{"explicit timezone", []string{"SELECT pg_catalog.timezone('UTC', now())", "SELECT pg_catalog.timezone('CET', now())", "SELECT pg_catalog.timezone('EST', now())", "SELECT pg_catalog.timezone('', now())"}},
	{"extract", []string{"SELECT EXTRACT('year' FROM now())", "SELECT EXTRACT('month' FROM now())", "SELECT EXTRACT('day' FROM now())", "SELECT EXTRACT('epoch' FROM now())"}},
	{"explain option", []string{"EXPLAIN (ANALYZE 0) SELECT 1", "EXPLAIN (ANALYZE 0) SELECT 2", "EXPLAIN (ANALYZE 0) SELECT 3", "EXPLAIN (ANALYZE 1) SELECT 4"}},
	{"explain option string", []string{"EXPLAIN (ANALYZE 'off') SELECT 1", "EXPLAIN (ANALYZE 'off') SELECT 2", "EXPLAIN (ANALYZE 'off') SELECT 3", "EXPLAIN (ANALYZE 'on') SELECT 4"}},
	{"explain format", []string{"EXPLAIN (FORMAT 'json') SELECT 1", "EXPLAIN (FORMAT 'json') SELECT 2", "EXPLAIN (FORMAT 'json') SELECT 3", "EXPLAIN (FORMAT 'yaml') SELECT 4"}},
	{"begin options", []string{"BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY; SELECT 1", "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY; SELECT 2", "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY; SELECT 3", "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE; SELECT 4"}},
	{"set role string", []string{"SET ROLE 'a'", "SET ROLE 'b'", "SET ROLE 'c'", "SET ROLE 'postgres'"}},
	{"session authorization", []string{"SET SESSION AUTHORIZATION 'a'", "SET SESSION AUTHORIZATION 'b'", "SET SESSION AUTHORIZATION 'c'", "SET SESSION AUTHORIZATION 'postgres'"}},
	{"set value", []string{"SET statement_timeout = 1", "SET statement_timeout = 2", "SET statement_timeout = 3", "SET statement_timeout = 0"}},
	{"copy file", []string{"COPY t FROM 'a'", "COPY t FROM 'b'", "COPY t FROM 'c'", "COPY t FROM '/etc/passwd'"}},
	{"insert values", []string{"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)", "INSERT INTO t VALUES (4)"}},

	// Values the lexer or the deparser treat specially.
	{"quotes doubled", []string{"SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = 'y'", "SELECT * FROM t WHERE a = 'z'", "SELECT * FROM t WHERE a = 'it''s'", "SELECT * FROM t WHERE a = ''''", "SELECT * FROM t WHERE a = ''"}},
	{"control characters", []string{"SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = 'y'", "SELECT * FROM t WHERE a = 'z'", "SELECT * FROM t WHERE a = '\x01\x1f\x7f\t\r\n\f'"}},
	{"comment-like strings", []string{"SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = 'y'", "SELECT * FROM t WHERE a = 'z'", "SELECT * FROM t WHERE a = '--'", "SELECT * FROM t WHERE a = '/*'", "SELECT * FROM t WHERE a = '$$'", "SELECT * FROM t WHERE a = '\"'", "SELECT * FROM t WHERE a = ';DROP TABLE t'"}},
	{"leading zeros", []string{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 2", "SELECT * FROM t WHERE a = 3", "SELECT * FROM t WHERE a = 0", "SELECT * FROM t WHERE a = 00", "SELECT * FROM t WHERE a = 0000000000000000000000000000007"}},
	{"int4 boundary", []string{"SELECT * FROM t WHERE x = 2147483647", "SELECT * FROM t WHERE x = 2147483646", "SELECT * FROM t WHERE x = 5", "SELECT * FROM t WHERE x = 02147483647"}},
	{"negative", []string{"SELECT * FROM t WHERE a = -1", "SELECT * FROM t WHERE a = -2", "SELECT * FROM t WHERE a = -3", "SELECT * FROM t WHERE a = -0", "SELECT * FROM t WHERE a = -2147483648"}},
	{"negative big", []string{"SELECT * FROM t WHERE a = -2147483648", "SELECT * FROM t WHERE a = -2147483649", "SELECT * FROM t WHERE a = -9223372036854775808", "SELECT * FROM t WHERE a = -9223372036854775809"}},
	{"negative cast", []string{"SELECT -5::text FROM t", "SELECT -6::text FROM t", "SELECT -7::text FROM t", "SELECT -0::text FROM t"}},
	{"numeric cast parens", []string{"SELECT 1.5::numeric FROM t", "SELECT 2.5::numeric FROM t", "SELECT 3.5::numeric FROM t", "SELECT 4.::numeric FROM t", "SELECT .5::numeric FROM t"}},
	{"field number", []string{"SELECT t.5 FROM t", "SELECT t.6 FROM t", "SELECT t.7 FROM t"}},
	{"unary plus", []string{"SELECT +5 FROM t", "SELECT +6 FROM t", "SELECT +7 FROM t", "SELECT +0 FROM t"}},
	{"not-lookahead", []string{"SELECT * FROM t WHERE a NOT BETWEEN 1 AND 2", "SELECT * FROM t WHERE a NOT BETWEEN 3 AND 4", "SELECT * FROM t WHERE a NOT BETWEEN 5 AND 6", "SELECT * FROM t WHERE a NOT BETWEEN SYMMETRIC 5 AND 6"}},
	{"in lists", []string{"SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT * FROM t WHERE (a, b) IN ((5, 6), (7, 8))", "SELECT * FROM t WHERE (a, b) IN ((9, 0), (1, 1))", "SELECT * FROM t WHERE (a, b) IN ((0, 0), (0, 0))"}},
	{"values top level", []string{"VALUES (1, 'a'), (2, 'b')", "VALUES (3, 'c'), (4, 'd')", "VALUES (5, 'e'), (6, 'f')", "VALUES (0, ''), (0, '''')"}},
	{"aggregate filter", []string{"SELECT count(*) FILTER (WHERE a > 1) FROM t", "SELECT count(*) FILTER (WHERE a > 2) FROM t", "SELECT count(*) FILTER (WHERE a > 3) FROM t", "SELECT count(*) FILTER (WHERE a > 0) FROM t"}},
	{"within group", []string{"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a) FROM t", "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY a) FROM t", "SELECT percentile_cont(0.75) WITHIN GROUP (ORDER BY a) FROM t", "SELECT percentile_cont(1.) WITHIN GROUP (ORDER BY a) FROM t"}},
	{"typed literal quoted type", []string{`SELECT "int4" '1'`, `SELECT "int4" '2'`, `SELECT "int4" '3'`, `SELECT "int4" '0'`}},
	{"char type", []string{`SELECT '1'::"char"`, `SELECT '2'::"char"`, `SELECT '3'::"char"`, `SELECT 't'::"char"`}},
	{"whitespace variants", []string{"SELECT * FROM t WHERE a = 1", "SELECT\t*\tFROM\tt\tWHERE\ta\t=\t2", "SELECT\r\n*\fFROM t WHERE a=3", "SELECT*FROM t WHERE a=4", "SELECT *FROM t WHERE a =5"}},
	{"long identifiers", []string{
		"SELECT * FROM " + strings.Repeat("a", 70) + " WHERE x = 1", "SELECT * FROM " + strings.Repeat("a", 70) + " WHERE x = 2",
		"SELECT * FROM " + strings.Repeat("a", 70) + " WHERE x = 3", "SELECT * FROM " + strings.Repeat("a", 63) + "b" + " WHERE x = 4",
		"SELECT * FROM " + strings.Repeat("a", 63) + " WHERE x = 5", "SELECT * FROM pg_authid" + strings.Repeat("x", 60) + " WHERE x = 6",
	}},
	{"denied relation", []string{"SELECT * FROM pg_authid WHERE rolname = 'a'", "SELECT * FROM pg_authid WHERE rolname = 'b'", "SELECT * FROM pg_authid WHERE rolname = 'c'", "SELECT * FROM pg_authid WHERE rolname = 'postgres'"}},
	{"select into", []string{"SELECT 1 INTO t2", "SELECT 2 INTO t2", "SELECT 3 INTO t2"}},
	{"locking", []string{"SELECT * FROM t WHERE a = 1 FOR UPDATE", "SELECT * FROM t WHERE a = 2 FOR UPDATE", "SELECT * FROM t WHERE a = 3 FOR UPDATE"}},
	{"parse error", []string{"SELECT 1 2", "SELECT 3 4", "SELECT 5 6", "SELECT 7 8"}},
}

// checkShapeSequence sends texts, in order, through DecideQuery on a warm
// engine with empty caches, under every test profile, and compares each
// answer with the full judgment of the same text. It returns the number
// of answers the shape cache gave.
func checkShapeSequence(t *testing.T, texts []string) uint64 {
	t.Helper()
	warm, ref := shapeEngines(t)
	warm.shapes.Purge()
	warm.cache.Purge()
	before := warm.CacheStats().ShapeHits
	for _, id := range shapeIDs {
		for _, text := range texts {
			got := warm.DecideQuery(id, text)
			if want := fullJudge(ref, id, text); !sameAnswer(got, want) {
				t.Errorf("profile %q, text %q:\nshape cache: %+v\nfull:        %+v", id.Profile, text, got, want)
			}
		}
	}
	return warm.CacheStats().ShapeHits - before
}

// TestShapeAttacks: every attack sequence gets the full judgment's
// answers, and enough of them come from the shape cache that the
// comparison means something.
func TestShapeAttacks(t *testing.T) {
	var hits uint64
	for _, a := range shapeAttacks {
		t.Run(a.name, func(t *testing.T) {
			n := checkShapeSequence(t, a.texts)
			hits += n
			t.Logf("%d shape hits", n)
		})
	}
	if hits < uint64(len(shapeAttacks)) {
		t.Fatalf("only %d shape hits over %d attacks", hits, len(shapeAttacks))
	}
}

// shapeAttackSeeds are the attack texts, for the differential test's seed
// corpus.
func shapeAttackSeeds() []string {
	var out []string
	for _, a := range shapeAttacks {
		out = append(out, a.texts[len(a.texts)-1])
	}
	return out
}

// TestShapeCacheProfiles: a shape learnt under one profile never answers
// for another, even with the same constants.
func TestShapeCacheProfiles(t *testing.T) {
	opts := Options{Profiles: map[string]Profile{
		"wide":   {MaxRows: 100000},
		"narrow": {MaxRows: 10, DenyRelations: []string{"public.u"}},
	}}
	warm, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range []string{
		"SELECT * FROM t WHERE a = %d LIMIT 5000",
		"SELECT * FROM u WHERE a = %d",
		"SELECT * FROM t WHERE a = %d",
	} {
		for i := 0; i < 8; i++ {
			sql := fmt.Sprintf(shape, i)
			warm.DecideQuery(Identity{Profile: "wide"}, sql)
		}
		for _, id := range []Identity{{Profile: "narrow"}, {Profile: "wide"}, {Profile: "nosuch"}, {}} {
			for i := 0; i < 8; i++ {
				sql := fmt.Sprintf(shape, i+100)
				want := ref.Decide(id, sql) // an unknown profile is Decide's to refuse
				if id.Profile != "nosuch" {
					want = fullJudge(ref, id, sql)
				}
				if got := warm.DecideQuery(id, sql); !sameAnswer(got, want) {
					t.Errorf("profile %q, %q: %+v, want %+v", id.Profile, sql, got, want)
				}
			}
		}
	}
	if warm.CacheStats().ShapeHits == 0 {
		t.Error("no text was answered from the shape cache")
	}
}

// TestShapeCacheProfileSwap: while goroutines learn and answer a shape,
// the profiles are swapped back and forth between one that rewrites the
// text and one that denies it. Every answer given after a swap returned
// is the new profile's; answers racing a swap are one of the two.
func TestShapeCacheProfileSwap(t *testing.T) {
	sets := []map[string]Profile{
		{"p": {MaxRows: 10}},
		{"p": {MaxRows: 10, DenyRelations: []string{"public.t"}}},
	}
	e, err := New(Options{Profiles: sets[0]})
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]*Engine, len(sets))
	for i, ps := range sets {
		if refs[i], err = New(Options{Profiles: ps}); err != nil {
			t.Fatal(err)
		}
	}
	id := Identity{Profile: "p"}
	text := func(i int) string { return fmt.Sprintf("SELECT * FROM t WHERE a = %d LIMIT 5000", i) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sql := text(1000000*(g+1) + i)
				got := e.DecideQuery(id, sql)
				if !sameAnswer(got, fullJudge(refs[0], id, sql)) && !sameAnswer(got, fullJudge(refs[1], id, sql)) {
					select {
					case errs <- fmt.Sprintf("%q: %+v is neither profile's answer", sql, got):
					default:
					}
					return
				}
			}
		}(g)
	}
	n := 0
	for round := 0; round < 20; round++ {
		cur := round % len(sets)
		if err := e.SetProfiles(sets[cur]); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			n++
			sql := text(n)
			if got, want := e.DecideQuery(id, sql), fullJudge(refs[cur], id, sql); !sameAnswer(got, want) {
				t.Errorf("round %d, %q after the swap: %+v, want %+v", round, sql, got, want)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if e.CacheStats().ShapeHits == 0 {
		t.Error("no text was answered from the shape cache")
	}
}
