package policy

import (
	"strings"
	"testing"
)

// legitSchema is the schema the legitimate statements read; the real
// PostgreSQL test creates it.
const legitSchema = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, manager_id int, created_at timestamptz DEFAULT now(), profile jsonb);
CREATE TABLE products (id int PRIMARY KEY, name text, price numeric(10,2), tags text[]);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), status text, created_at timestamptz DEFAULT now(), meta jsonb);
CREATE TABLE order_items (order_id int REFERENCES orders, product_id int REFERENCES products, qty int, price numeric(10,2));
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
INSERT INTO customers SELECT g, 'c' || g, 'c' || g || '@example.com', g % 3, now() - g * interval '1 day', jsonb_build_object('tier', g % 2, 'tags', jsonb_build_array('a', 'b')) FROM generate_series(1, 50) g;
INSERT INTO products SELECT g, 'p' || g, g * 1.5, ARRAY['x', 'y'] FROM generate_series(1, 20) g;
INSERT INTO orders SELECT g, 1 + g % 50, g * 3.25, CASE WHEN g % 2 = 0 THEN 'paid' ELSE 'open' END, now() - g * interval '1 hour', jsonb_build_object('channel', 'web') FROM generate_series(1, 1500) g;
INSERT INTO order_items SELECT 1 + g % 1500, 1 + g % 20, 1 + g % 4, 2.5 FROM generate_series(1, 3000) g;
INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 200) g;
`

// legit are statements the readonly profile must allow.
var legit = []string{
	// field selection that reads a column or calls a harmless function
	"select o.id, o.total, (o.meta).jsonb_typeof from orders o",
	"select (c.name).upper, (c.email).length, c.pg_typeof from customers c",
	"select customers.name, public.customers.email from customers",
	"select (p.tags)[1], (o).id from products p, orders o where o.id = p.id",
	"select (row(1, 'a')).f1",
	"select (x).pg_typeof from generate_series(1, 3) x",
	// pgbench -S and plain reads
	"SELECT abalance FROM pgbench_accounts WHERE aid = 123;",
	"select * from orders",
	"SELECT id, total FROM orders WHERE status = 'paid'",
	"SELECT * FROM public.orders LIMIT 10",
	"select * from orders limit 5000",
	"select * from orders limit all",
	"select * from orders order by id offset 10 limit 20",
	"select * from orders fetch first 10 rows only",
	"select * from orders order by id fetch next 5000 rows only",
	"TABLE products",
	"VALUES (1, 'a'), (2, 'b')",
	"SELECT 1",
	"select now(), current_date, current_user, session_user",
	"select version()",
	"select current_setting('search_path')",
	"select current_setting('statement_timeout')",
	`SELECT "id", "name" FROM "customers"`,
	"select o.* from orders as o",
	"select count(*) from big_orders",
	// joins
	"SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = c.id",
	"select c.name, count(o.id) from customers c left join orders o on o.customer_id = c.id group by c.name",
	"select * from orders o right join customers c on c.id = o.customer_id",
	"select * from orders o full outer join customers c on c.id = o.customer_id",
	"select * from orders cross join products limit 3",
	"select * from orders natural join order_items",
	"select * from customers join products using (id, name)",
	"select p.name, sum(oi.qty) from order_items oi join products p on p.id = oi.product_id join orders o on o.id = oi.order_id group by p.name order by 2 desc",
	"select * from customers c where exists (select 1 from orders o where o.customer_id = c.id)",
	"select * from customers c where not exists (select 1 from orders o where o.customer_id = c.id and o.total > 1000)",
	"select * from customers where id in (select customer_id from orders where total > 100)",
	"select * from customers where id = any(array[1, 2, 3])",
	// CTEs
	"WITH paid AS (SELECT * FROM orders WHERE status = 'paid') SELECT count(*) FROM paid",
	"with a as (select 1 as x), b as (select x + 1 as y from a) select * from a, b",
	"with recursive t(n) as (select 1 union all select n + 1 from t where n < 10) select sum(n) from t",
	"with orders as (select 1 as id) select * from orders",
	"with m as materialized (select * from orders) select count(*) from m",
	"with x as not materialized (select id from orders) select * from x where id < 5",
	"with recursive r as (select id, manager_id from customers where id = 1 union select c.id, c.manager_id from customers c join r on c.manager_id = r.id) select * from r",
	// window functions
	"SELECT id, total, row_number() OVER (ORDER BY total DESC) FROM orders",
	"select id, sum(total) over (partition by customer_id order by created_at rows between unbounded preceding and current row) from orders",
	"select id, rank() over w, dense_rank() over w from orders window w as (partition by status order by total)",
	"select id, lag(total) over (order by id), lead(total, 2) over (order by id) from orders",
	"select id, ntile(4) over (order by total), percent_rank() over (order by total) from orders",
	"select first_value(id) over (partition by status order by total), last_value(id) over (partition by status) from orders",
	// aggregates, FILTER, grouping
	"select status, count(*) filter (where total > 100), avg(total) from orders group by status",
	"select count(*), sum(total), min(total), max(total) from orders",
	"select string_agg(name, ', ' order by name) from customers",
	"select array_agg(distinct status) from orders",
	"select percentile_cont(0.5) within group (order by total) from orders",
	"select status, count(*) from orders group by status having count(*) > 1",
	"select status, customer_id, count(*) from orders group by rollup (status, customer_id)",
	"select status, count(*) from orders group by grouping sets ((status), ())",
	"select status, customer_id, count(*) from orders group by cube (status, customer_id)",
	"select bool_and(total > 0), bool_or(total > 1000) from orders",
	"select jsonb_agg(o) from orders o where id < 3",
	// LATERAL
	"SELECT c.id, o.* FROM customers c, LATERAL (SELECT * FROM orders WHERE customer_id = c.id ORDER BY total DESC LIMIT 3) o",
	"select c.id, x.n from customers c cross join lateral (select count(*) as n from orders o where o.customer_id = c.id) x",
	"select * from customers c left join lateral (select total from orders o where o.customer_id = c.id limit 1) t on true",
	"select * from orders o, lateral jsonb_each(o.meta) e",
	// JSON
	"select meta->>'channel' from orders",
	"select profile->'tags'->0 from customers",
	"select profile #>> '{tags,1}' from customers",
	"select * from customers where profile @> '{\"tier\": 1}'",
	"select * from customers where profile ? 'tier'",
	"select jsonb_build_object('id', id, 'name', name) from customers",
	"select jsonb_array_elements(profile->'tags') from customers",
	"select to_jsonb(c) from customers c limit 2",
	"select jsonb_path_query(profile, '$.tags[*]') from customers",
	"select json_agg(json_build_object('id', id)) from products",
	"select * from jsonb_to_record('{\"a\": 1}'::jsonb) as x(a int)",
	// DISTINCT ON and set operations
	"SELECT DISTINCT ON (customer_id) customer_id, total FROM orders ORDER BY customer_id, total DESC",
	"select distinct status from orders",
	"select id from orders union select id from customers",
	"select id from orders intersect select id from customers",
	"select id from orders except all select id from customers",
	"(select id from orders order by id limit 2) union all (select id from customers order by id limit 2)",
	// expressions and built-in functions
	"select lower(name), upper(email), length(name), substring(name from 1 for 2) from customers",
	"select coalesce(email, 'none'), nullif(name, ''), greatest(1, 2), least(3, 4) from customers",
	"select case when total > 100 then 'big' else 'small' end from orders",
	"select date_trunc('day', created_at), extract(year from created_at) from orders",
	"select created_at at time zone 'UTC' from orders",
	"select id::text, total::int, cast(total as bigint) from orders",
	"select round(total, 1), abs(total), ceil(total), floor(total) from orders",
	"select * from orders where created_at > now() - interval '7 days'",
	"select * from customers where name like 'c1%' or name ilike 'C2%'",
	"select * from customers where name ~ '^c[0-9]+$'",
	"select * from orders where total between 10 and 20",
	"select * from orders where status is not null and meta is not null",
	"select * from products where tags && array['x']",
	"select unnest(tags) from products",
	"select * from generate_series(1, 10) g",
	"select g from generate_series(1, 5) as g(g) order by g desc",
	"select * from unnest(array[1, 2, 3]) with ordinality as u(v, n)",
	"select format('%s-%s', id, name) from customers",
	"select md5(name), encode(sha256(name::bytea), 'hex') from customers",
	"select to_char(created_at, 'YYYY-MM-DD') from orders",
	"select random()",
	"select (select max(total) from orders) as m",
	"select array(select id from orders where id < 5)",
	"select row(1, 2) = row(1, 2)",
	"select id from orders where id = $1",
	"select id from orders where customer_id = $1 and status = $2 limit $3",
	"select * from orders tablesample bernoulli (10)",
	"select * from orders tablesample system (50) repeatable (1)",
	"select xmlelement(name a, 'x')",
	"select * from orders order by id using <",
	"select * from orders where id = any (select customer_id from orders)",
	"select * from orders where id OPERATOR(pg_catalog.=) 1",
	"select 'orders'::regclass",
	"select pg_relation_size('orders'), pg_size_pretty(pg_total_relation_size('orders'))",
	"select has_table_privilege('orders', 'select')",
	"select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'",
	"select table_name, column_name, data_type from information_schema.columns where table_schema = 'public'",
	"select * from information_schema.tables where table_schema = 'public'",
	"select rolname from pg_roles",
	"select * from pg_settings where name = 'search_path'",
	"select typname from pg_type where oid = 'int4'::regtype",
	// statements other than SELECT
	"EXPLAIN SELECT * FROM orders",
	"EXPLAIN (FORMAT JSON) SELECT * FROM orders WHERE id = 1",
	"EXPLAIN (ANALYZE false, COSTS off) SELECT 1",
	"EXPLAIN VERBOSE SELECT count(*) FROM orders",
	"SHOW search_path",
	"SHOW ALL",
	"show statement_timeout",
	"BEGIN",
	"BEGIN READ ONLY",
	"START TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	"BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE",
	"COMMIT",
	"END",
	"ROLLBACK",
	"ABORT",
	"/* leading comment */ select 1",
	"select 1 -- trailing comment",
	"  select 1 ;  ",
}

func TestLegitimateStatementsAllowed(t *testing.T) {
	if len(legit) < 100 {
		t.Fatalf("%d legitimate statements; keep at least 100", len(legit))
	}
	e := newTestEngine(t)
	for _, sql := range legit {
		v := e.Decide(Identity{UserID: "1"}, sql)
		if !v.Allowed {
			t.Errorf("denied %q: %s: %s", sql, v.Rule, v.Reason)
			continue
		}
		if v.Err() != nil || v.SQLState != "" || v.Rule != "" {
			t.Errorf("%q: allowed verdict carries an error: %+v", sql, v)
		}
		if v.Rewritten == "" {
			continue
		}
		// The rewrite is itself a statement pgmoat sends: it must pass the
		// same gate, unchanged.
		again := e.Decide(Identity{UserID: "1"}, v.Rewritten)
		if !again.Allowed || again.Rewritten != "" {
			t.Errorf("rewrite of %q is %q, which decides %+v", sql, v.Rewritten, again)
		}
		if strings.Contains(sql, ";") && strings.Count(v.Rewritten, ";") > 0 {
			t.Errorf("rewrite of %q carries a semicolon: %q", sql, v.Rewritten)
		}
	}
}
