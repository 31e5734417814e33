-- The lines of orders $1..$2. Every value derives from (order, line), the
-- same way order_total_cents does, so each order's total matches its lines.
-- The lateral VALUES list is cheaper than a generate_series per order and
-- yields lines in (order, line) order, so the table is written in the order
-- a shop would have written it, without a sort.
INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, discount)
SELECT o, l,
       pg_temp.line_product(o, l),
       pg_temp.line_quantity(o, l),
       pg_temp.price_cents(pg_temp.line_product(o, l)) * 0.01,
       pg_temp.line_discount_cents(o, l) * 0.01
FROM generate_series($1::bigint, $2::bigint) o
CROSS JOIN LATERAL (
    SELECT l FROM (VALUES (1), (2), (3), (4), (5)) AS lines (l) WHERE l <= pg_temp.item_count(o)
) n;
