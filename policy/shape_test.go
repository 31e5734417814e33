package policy

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// shapeSeeds are texts whose constants the differential test varies:
// the common shapes, and every way found for a constant's value to matter.
var shapeSeeds = []string{
	"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
	"select * from t where id = 5 and name = 'bob'",
	"SELECT * FROM t WHERE a IN (1, 2, 3) AND b BETWEEN 1.5 AND 2.5",
	"SELECT * FROM t LIMIT 5",
	"SELECT * FROM t LIMIT 5000",
	"SELECT * FROM t LIMIT 5 OFFSET 10",
	"SELECT * FROM t OFFSET 10 LIMIT 5",
	"SELECT * FROM t FETCH FIRST 5 ROWS ONLY",
	"SELECT * FROM t FETCH FIRST 5 ROWS WITH TIES",
	"SELECT * FROM t ORDER BY 1 LIMIT 2147483648",
	"SELECT * FROM t LIMIT LEAST(5, 10)",
	"SELECT * FROM t LIMIT 5 + 1",
	"SELECT * FROM t LIMIT ALL OFFSET 3",
	"SELECT * FROM t LIMIT NULL",
	"SELECT 'pg_authid'::regclass",
	"SELECT regclass 'pg_authid'",
	"SELECT CAST('pg_authid' AS regclass)",
	"SELECT 1259::regclass",
	"SELECT 'now'::regproc",
	"SELECT current_setting('search_path')",
	"SELECT set_config('a.b', 'c', false)",
	"SELECT to_regclass('pg_authid')",
	"SELECT has_table_privilege('pg_authid', 'select')",
	"SELECT pg_get_viewdef('secret_view'), pg_get_viewdef('secret_view'::text)",
	"SELECT pg_get_serial_sequence('t', 'c'), ('pg_authid').pg_relation_size",
	"SELECT '{pg_authid}'::regclass[], '{x}'::_regclass, ARRAY['pg_authid']::regclass[]",
	"SELECT ('search_path').current_setting",
	"SELECT x FROM t WHERE y = -5",
	"SELECT x FROM t WHERE y = - 5.5",
	"SELECT (-5)::int, (-0)::int, 5::int, 1.5::numeric",
	"SELECT boolean 't', boolean 'f', boolean 'yes'",
	"SELECT 't'::bool, 'f'::boolean",
	"SELECT date '2020-01-01', interval '1 day', '1'::interval(3)",
	"SELECT interval '1' day, interval(3) '1'",
	"SELECT float(10) '1.5', float(30) '1.5'",
	"SELECT '1.5'::float(10)",
	"SELECT 'x'::varchar(5), 'y'::char(3), 'z'::numeric(10, 2)",
	"SELECT '{1}'::int[3]",
	"SELECT char 'x', point '(1,2)'",
	"SELECT EXTRACT('year' FROM now()), EXTRACT(year FROM now())",
	"SELECT normalize('a', NFC), 'a' IS NFC NORMALIZED",
	"SELECT substring('abc' FROM 1 FOR 2), position('b' IN 'abc'), trim(both 'x' FROM 'xax')",
	"SELECT overlay('abc' PLACING 'x' FROM 2 FOR 1)",
	"SELECT 'a' LIKE 'b' ESCAPE 'c', 'a' SIMILAR TO 'b' ESCAPE 'c'",
	"SELECT now() AT TIME ZONE 'UTC'",
	"SELECT xmlroot(xmlparse(document '<a/>'), version '1.0', standalone yes)",
	"SELECT lower('ABC'), upper('x'), length('abc'), coalesce(NULL, 1), nullif(1, 2)",
	"SELECT ARRAY[1, 2, 3], ROW(1, 'a'), (1, 2) = (1, 2)",
	"SELECT CASE WHEN 1 = 1 THEN 'a' ELSE 'b' END",
	"SELECT GREATEST(1, 2), LEAST(3, 4)",
	"SELECT 'a' COLLATE \"C\"",
	"SELECT (ARRAY[1, 2])[1], (ARRAY[1, 2])[1:2]",
	"SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(x, y)",
	"SELECT 1 UNION SELECT 2 LIMIT 3",
	"SELECT * FROM t WHERE a = 1 ORDER BY 2 DESC LIMIT 10 OFFSET 20",
	"SELECT count(*) FROM t GROUP BY 1 HAVING count(*) > 5",
	"SELECT * FROM generate_series(1, 10) g LIMIT 5",
	"SELECT * FROM t TABLESAMPLE system (10) REPEATABLE (1)",
	"SELECT pg_sleep(1)",
	"SELECT * FROM pg_authid WHERE rolname = 'x'",
	"SELECT * FROM pg_catalog.pg_class WHERE relname = 'pg_authid'",
	"EXPLAIN (ANALYZE 0) SELECT 1",
	"EXPLAIN (ANALYZE 1) SELECT 1",
	"EXPLAIN (ANALYZE 'off') SELECT 1",
	"EXPLAIN (COSTS 0) SELECT * FROM t WHERE id = 5",
	"EXPLAIN SELECT * FROM t WHERE id = 5",
	"BEGIN READ ONLY; SELECT 1",
	"SET statement_timeout = 5",
	"SET search_path = 'public'",
	"SHOW search_path",
	"INSERT INTO t VALUES (1, 'a')",
	"UPDATE t SET a = 1 WHERE b = 2",
	"COPY t FROM 'file'",
	"SELECT 1 2",
	"SELECT 'a' 'b'",
	"SELECT 1; SELECT 2",
	"SELECT 1; SELECT * FROM t LIMIT 5",
	"SELECT 5 FROM t WHERE x = 5 AND y = 5",
	"SELECT 'Pg''00000M', 1987600000",
	"SELECT a.b FROM t a WHERE a.c = 'x''y'",
	"SELECT * FROM t WHERE a = 2147483647 OR a = 2147483648",
	"SELECT 1.0 + .5 - 5.",
	"SELECT json_object('a': 1), json_array(1, 2)",
	"SELECT 'x' IS JSON",
	"SELECT * FROM t WHERE x = 'a' FOR UPDATE",
	"SELECT 1 INTO t2",
	"DECLARE c CURSOR FOR SELECT 1",
	"PREPARE p AS SELECT 1; EXECUTE p(1)",
	"SELECT \"T\".\"c\" FROM \"T\" WHERE \"T\".x = 1",
	"SELECT a FROM t WHERE b = 007",
}

// constPool holds replacement values by kind: ordinary values and the
// ones rules and the deparser single out.
var constPool = map[tokKind][]string{
	tokInt:    {"0", "1", "2", "5", "7", "10", "42", "999", "1000", "1001", "5000", "65535", "999999", "2147483647", "007", "00"},
	tokBigInt: {"2147483648", "99999999999", "2147483649", "0002147483648"},
	tokDec:    {"0.5", "1.0", "10.25", ".5", "5.", "1000.0", "0.0", "1.", "00.10"},
	tokStr: {"''", "'a'", "'it''s'", "'t'", "'f'", "'yes'", "'off'", "'on'", "'0'", "'1'", "'pg_authid'",
		"'x y'", "'1 day'", "'public.t'", "'PG_CATALOG.PG_AUTHID'", "'Pg''00000M'", "'2020-01-01'",
		"'{1,2}'", "'NFC'", "'<a/>'", "'search_path'", "''''", "'\"q\"'", "'-- not a comment'", "'/* no */'",
		"'$1'", "'$$'"},
}

// variant returns sql with each constant not kept replaced by a value of
// its kind.
func variant(sql string, sh shape, keep []bool, rnd *rand.Rand) string {
	var b strings.Builder
	last := 0
	for i, t := range sh.consts {
		b.WriteString(sql[last:t.start])
		if keep[i] || rnd.IntN(4) == 0 {
			b.WriteString(sql[t.start:t.end])
		} else {
			pool := constPool[t.kind]
			b.WriteString(pool[rnd.IntN(len(pool))])
		}
		last = int(t.end)
	}
	b.WriteString(sql[last:])
	return b.String()
}

// fullJudge is Decide on a cold cache: the reference answer.
func fullJudge(e *Engine, id Identity, sql string) Verdict {
	name := id.Profile
	if name == "" {
		name = DefaultProfile
	}
	cur := e.cur.Load()
	r := cur.profiles[name]
	return e.decide(r, cur.fc, e.impliedFor(cur, name, r), sql)
}

var (
	shapeEnginesOnce sync.Once
	shapeWarm        *Engine
	shapeRef         *Engine
	shapeEnginesErr  error
)

// shapeProfiles: the readonly profile, and one with a small max_rows and
// several statements per text, so that LIMIT counts fall on both sides.
var shapeIDs = []Identity{{}, {Profile: "tight"}}

func shapeEngines(tb testing.TB) (warm, ref *Engine) {
	shapeEnginesOnce.Do(func() {
		opts := Options{Profiles: map[string]Profile{"tight": {MaxRows: 10, AllowMultiStatement: true}}}
		if shapeWarm, shapeEnginesErr = New(opts); shapeEnginesErr != nil {
			return
		}
		shapeRef, shapeEnginesErr = New(opts)
	})
	if shapeEnginesErr != nil {
		tb.Fatal(shapeEnginesErr)
	}
	return shapeWarm, shapeRef
}

func sameAnswer(a, b Verdict) bool { return sameVerdict(a, b) && a.Rewritten == b.Rewritten }

// checkShapeDifferential feeds variants of sql to a warm engine through
// DecideQuery, so that the shape is studied and learnt and later variants
// are answered from the shape cache, and compares every answer with the
// full judgment of the same text.
func checkShapeDifferential(t *testing.T, sql string, seed uint64) (shapeHits uint64) {
	warm, ref := shapeEngines(t)
	warm.shapes.Purge()
	warm.cache.Purge()
	sh, ok := scanShape(sql, false)
	rnd := rand.New(rand.NewPCG(seed, 7))
	texts := []string{sql}
	if ok {
		// Some constants keep their value in every variant, so that
		// shapes with pinned constants are answered from the cache too.
		keep := make([]bool, len(sh.consts))
		for i := range keep {
			keep[i] = rnd.IntN(2) == 0
		}
		for i := 0; i < 8; i++ {
			texts = append(texts, variant(sql, sh, keep, rnd))
		}
		texts = append(texts, sql)
	}
	before := warm.CacheStats().ShapeHits
	for _, id := range shapeIDs {
		for _, text := range texts {
			got := warm.DecideQuery(id, text)
			want := fullJudge(ref, id, text)
			if !sameAnswer(got, want) {
				t.Fatalf("profile %q, text %q (variant of %q):\nshape cache: %+v\nfull:        %+v", id.Profile, text, sql, got, want)
			}
		}
	}
	return warm.CacheStats().ShapeHits - before
}

func TestShapeDifferential(t *testing.T) {
	var hits uint64
	for i, sql := range append(shapeSeeds[:len(shapeSeeds):len(shapeSeeds)], shapeAttackSeeds()...) {
		for seed := uint64(0); seed < 3; seed++ {
			n := checkShapeDifferential(t, sql, uint64(i)<<8|seed)
			hits += n
			if testing.Verbose() {
				t.Logf("%d shape hits: %q", n, sql)
			}
		}
	}
	// The comparison means something only if the cache answered.
	if hits < uint64(len(shapeSeeds)) {
		t.Fatalf("only %d shape hits over %d seeds", hits, len(shapeSeeds))
	}
}

// FuzzShapeDifferential: for any text and any choice of constants, the
// shape cache's answer (verdict and rewritten text) equals the full
// judgment of the same text. go test runs the seeds and the corpus in
// testdata/fuzz/FuzzShapeDifferential; README.md says how to fuzz longer.
func FuzzShapeDifferential(f *testing.F) {
	for i, sql := range shapeSeeds {
		f.Add(sql, uint64(i))
	}
	for _, a := range shapeAttacks {
		for i, sql := range a.texts {
			f.Add(sql, uint64(i))
		}
	}
	for _, c := range hostile {
		if _, ok := scanShape(c.sql, false); ok {
			f.Add(c.sql, uint64(1))
		}
	}
	for _, sql := range legit {
		if _, ok := scanShape(sql, false); ok {
			f.Add(sql, uint64(2))
		}
	}
	f.Fuzz(func(t *testing.T, sql string, seed uint64) {
		if len(sql) > 2000 {
			return
		}
		checkShapeDifferential(t, sql, seed)
	})
}

// TestShapeCacheShares: the shapes common traffic sends are answered
// from the shape cache once learnt, with the constants spliced into the
// rewrite.
func TestShapeCacheShares(t *testing.T) {
	for _, sql := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = %d;",
		"select * from t where id = %d and name = 'bob'",
		"SELECT * FROM t WHERE a IN (%d, 2, 3) LIMIT 5 OFFSET 10",
		"SELECT * FROM t WHERE d > date '2020-01-01' AND x = %d",
		"SELECT lower('ABC'), %d::int FROM t",
		"EXPLAIN SELECT * FROM t WHERE id = %d",
		"SELECT * FROM t WHERE y = -5 AND x = %d",
	} {
		warm, _ := shapeEngines(t)
		warm.shapes.Purge()
		before := warm.CacheStats().ShapeHits
		for i := 0; i < 10; i++ {
			warm.DecideQuery(Identity{}, fmt.Sprintf(sql, 100+i))
		}
		if hits := warm.CacheStats().ShapeHits - before; hits < 6 {
			t.Errorf("%q: %d shape hits in 10 texts, want at least 6", sql, hits)
		}
		checkShapeDifferential(t, fmt.Sprintf(sql, 1), 1)
	}
}

// TestShapeCacheRefuses: texts whose constants name objects or settings
// share nothing; constants a rule reads are pinned.
func TestShapeCacheRefuses(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	study := func(sql string) *shapeInfo {
		sh, ok := scanShape(sql, true)
		if !ok {
			t.Fatalf("%q refused by the recognizer", sql)
		}
		cur := e.cur.Load()
		return e.studyShape(cur, DefaultProfile, cur.profiles[DefaultProfile], sql, sh)
	}
	for _, sql := range []string{
		"SELECT 'pg_authid'::regclass",
		"SELECT regclass 'pg_authid'",
		"SELECT 1259::regclass",
		"SELECT x FROM t WHERE y = 'int4'::regtype",
		"SELECT current_setting('search_path')",
		"SELECT ('search_path').current_setting",
		"SELECT to_regclass('pg_authid')",
		"SELECT pg_relation_size('pg_authid')",
		"SELECT pg_get_viewdef('v')",
		"SELECT pg_get_viewdef('v'::text, true)",
		"SELECT pg_get_serial_sequence('t', 'c')",
		"SELECT ('t').pg_relation_size",
		"SELECT '{t}'::_regclass",
		"SELECT '{t}'::regclass[]",
		"SELECT ARRAY['t']::regclass[]",
		"SELECT 1 2",
		"EXPLAIN (ANALYZE 0) SELECT 1",
	} {
		if info := study(sql); info.noShare == "" {
			t.Errorf("%q may share (pinned %v)", sql, info.pinned)
		}
	}
	for _, c := range []struct {
		sql    string
		pinned []int
	}{
		{"SELECT * FROM t LIMIT 5 OFFSET 10", []int{0}},
		{"SELECT * FROM t OFFSET 10 LIMIT 5", []int{1}},
		{"SELECT * FROM t WHERE a = 1 FETCH FIRST 5 ROWS ONLY", []int{1}},
		{"SELECT * FROM t LIMIT LEAST(5, 10)", []int{0}}, // 10 is never read while 5 <= max_rows
		{"SELECT x FROM t WHERE y = -5 AND z = 6", []int{0}},
		{"SELECT boolean 't', 'x'::text", []int{0}},
		{"SELECT 'x'::varchar(5), float(10) '1.5'", []int{1, 2}},
		{"SELECT EXTRACT('year' FROM now())", []int{0}},
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 12345", nil},
	} {
		info := study(c.sql)
		if info.noShare != "" || fmt.Sprint(info.pinned) != fmt.Sprint(c.pinned) {
			t.Errorf("%q: pinned %v (noShare %q), want pinned %v", c.sql, info.pinned, info.noShare, c.pinned)
		}
	}
}

// BenchmarkShapeCache judges distinct-literal texts of the pgbench -S
// shape, each one new to the exact-text cache: through DecideQuery, whose
// shape cache answers after the first few, and through Decide, which
// parses, deparses and judges every one.
func BenchmarkShapeCache(b *testing.B) {
	for _, bc := range []struct {
		name   string
		decide func(*Engine, Identity, string) Verdict
	}{
		{"shape", (*Engine).DecideQuery},
		{"exact", (*Engine).Decide},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			texts := make([]string, 4096)
			for i := range texts {
				texts[i] = fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", 1+i)
			}
			for _, s := range texts[:8] {
				bc.decide(e, Identity{}, s)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A fresh literal every time: the exact-text cache
				// never answers.
				sql := "SELECT abalance FROM pgbench_accounts WHERE aid = " + strconv.Itoa(10000+i) + ";"
				if v := bc.decide(e, Identity{}, sql); !v.Allowed {
					b.Fatal(v.Reason)
				}
			}
		})
	}
}

// TestShapeCacheConcurrent: goroutines learning and answering the same
// shapes at once (run under -race) all get the full judgment's answer.
func TestShapeCacheConcurrent(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, ref := shapeEngines(t)
	shapes := []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = %d;",
		"SELECT * FROM t WHERE a = %d LIMIT 5 OFFSET 3",
		"SELECT * FROM t WHERE a = 'x%d' LIMIT 5000",
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				sql := fmt.Sprintf(shapes[i%len(shapes)], g*1000+i)
				if got, want := e.DecideQuery(Identity{}, sql), fullJudge(ref, Identity{}, sql); !sameAnswer(got, want) {
					errs <- fmt.Sprintf("%q: %+v, want %+v", sql, got, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if e.CacheStats().ShapeHits == 0 {
		t.Error("no text was answered from the shape cache")
	}
}
