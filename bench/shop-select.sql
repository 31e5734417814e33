-- pgbench script for the shop demo through pgmoat:
--   pgbench -n -M prepared -c 16 -T 10 -f bench/shop-select.sql postgres://alice:alice@127.0.0.1:6432/shop
-- Each transaction looks up the recent orders of one customer. Row-level
-- security limits alice to her own customers, so many lookups return no
-- rows: that is the point of the demo, not an error.
\set cid random(1, 1000)
SELECT id, status, total_amount, created_at FROM orders WHERE customer_id = :cid ORDER BY created_at DESC LIMIT 10;
