package policy

import (
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

const (
	benchShort = "SELECT abalance FROM pgbench_accounts WHERE aid = 123;"
	// benchJoin is a typical 200-byte SELECT with a join.
	benchJoin = "SELECT c.name, o.id, o.total, o.created_at FROM customers c JOIN orders o ON o.customer_id = c.id " +
		"WHERE o.status = 'paid' AND o.total > 100 AND lower(c.email) LIKE '%@example.com' ORDER BY o.created_at DESC LIMIT 50"
)

// benchJoinNoLimit is benchJoin without its LIMIT, so the engine adds
// one: a rewrite and a deparse on every miss.
var benchJoinNoLimit = strings.TrimSuffix(benchJoin, " LIMIT 50")

// benchLong is a ~2 KB reporting query with CTEs, windows and subqueries.
var benchLong = strings.Repeat("-- report\n", 1) + `WITH paid AS (
  SELECT o.id, o.customer_id, o.total, o.created_at, date_trunc('day', o.created_at) AS day
  FROM orders o WHERE o.status = 'paid' AND o.created_at > now() - interval '30 days'
), per_customer AS (
  SELECT customer_id, count(*) AS n, sum(total) AS revenue,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY total) AS median
  FROM paid GROUP BY customer_id HAVING count(*) > 1
), ranked AS (
  SELECT pc.*, rank() OVER (ORDER BY revenue DESC) AS r,
         sum(revenue) OVER () AS total_revenue
  FROM per_customer pc
)
SELECT c.id, c.name, c.email, r.n, r.revenue, r.median, r.r,
       round(100.0 * r.revenue / nullif(r.total_revenue, 0), 2) AS share,
       (SELECT max(p.total) FROM paid p WHERE p.customer_id = c.id) AS biggest,
       (SELECT string_agg(DISTINCT pr.name, ', ' ORDER BY pr.name)
          FROM order_items oi JOIN products pr ON pr.id = oi.product_id
          JOIN paid p ON p.id = oi.order_id WHERE p.customer_id = c.id) AS products,
       coalesce(c.profile->>'tier', 'none') AS tier,
       CASE WHEN r.r <= 10 THEN 'top' WHEN r.r <= 100 THEN 'mid' ELSE 'tail' END AS band
FROM ranked r
JOIN customers c ON c.id = r.customer_id
LEFT JOIN LATERAL (
  SELECT count(*) AS open_tickets FROM orders o2
  WHERE o2.customer_id = c.id AND o2.status = 'open'
) t ON true
WHERE c.email IS NOT NULL AND c.created_at < now() - interval '1 day'
  AND EXISTS (SELECT 1 FROM orders o3 WHERE o3.customer_id = c.id AND o3.total > 10)
ORDER BY r.r, c.name
LIMIT 100`

func BenchmarkDecide(b *testing.B) {
	for _, c := range []struct{ name, sql string }{
		{"short", benchShort}, {"join200B", benchJoin}, {"join200B-rewrite", benchJoinNoLimit},
		{"long2KB", benchLong},
	} {
		b.Run("hit/"+c.name, func(b *testing.B) {
			e := newTestEngine(b)
			if v := e.Decide(Identity{}, c.sql); !v.Allowed {
				b.Fatal(v.Reason)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.Decide(Identity{}, c.sql)
			}
		})
		b.Run("miss/"+c.name, func(b *testing.B) {
			e := newTestEngine(b)
			texts := distinctTexts(c.sql, b.N)
			if v := e.Decide(Identity{}, texts[0]); !v.Allowed {
				b.Fatal(v.Reason)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.Decide(Identity{}, texts[i])
			}
		})
	}
}

// BenchmarkParseReference is pg_query.Parse on the same texts, the cost the
// engine avoids by reading the protobuf bytes itself.
func BenchmarkParseReference(b *testing.B) {
	for _, c := range []struct{ name, sql string }{{"join200B", benchJoin}, {"long2KB", benchLong}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := pg_query.Parse(c.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// distinctTexts makes n texts that differ by a trailing comment, so each
// one misses the cache the way pgbench -M simple does.
func distinctTexts(sql string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = sql + " -- " + strconv.Itoa(i)
	}
	return out
}
