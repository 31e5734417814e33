-- Generator helpers live in pg_temp: they exist only for the loading session
-- and leave nothing behind in the shop database. Each is a one-expression SQL
-- function that the planner inlines, so the bulk inserts pay no call
-- overhead. Inlining only happens while the body is IMMUTABLE (hence epoch
-- seconds rather than timestamptz arithmetic, which depends on the time zone)
-- and while every parameter used more than once receives a cheap argument
-- (hence helpers take (order, line) rather than each other's results).
-- Keep h, item_count and the salts in step with hash.go and counts.go.

-- h is a stable pseudo-random draw in [0, 2^62) for a (value, salt) pair.
CREATE FUNCTION pg_temp.h(v bigint, salt bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashint8extended(v, salt) & 4611686018427387903 $$;

-- pick chooses one element of a non-empty text array.
CREATE FUNCTION pg_temp.pick(words text[], v bigint, salt bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT words[1 + pg_temp.h(v, salt) % cardinality(words)] $$;

-- price_cents is the list price of product p in euro cents.
CREATE FUNCTION pg_temp.price_cents(p bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 500 + pg_temp.h(p, 17) % 40000 $$;

-- item_count is the number of lines of order o: 1 to 5, three on average.
CREATE FUNCTION pg_temp.item_count(o bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (1 + pg_temp.h(o, 101) % 5)::integer $$;

-- line_product is the product on line l of order o. The minimum of two
-- uniform draws favours low product ids: some products are bestsellers.
CREATE FUNCTION pg_temp.line_product(o bigint, l integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (1 + least(pg_temp.h(o * 8 + l, 102) % 500, pg_temp.h(o * 8 + l, 103) % 500))::integer $$;

-- line_quantity is how many units line l of order o bought: mostly one.
CREATE FUNCTION pg_temp.line_quantity(o bigint, l integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN pg_temp.h(o * 8 + l, 104) % 100 < 70 THEN 1
                      WHEN pg_temp.h(o * 8 + l, 104) % 100 < 90 THEN 2
                      ELSE 3 + (pg_temp.h(o * 8 + l, 106) % 3)::integer END $$;

-- line_discount_cents is 10% off (rounded to the cent) on one line in ten.
CREATE FUNCTION pg_temp.line_discount_cents(o bigint, l integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN pg_temp.h(o * 8 + l, 105) % 10 = 0
                      THEN (pg_temp.price_cents(pg_temp.line_product(o, l)) * pg_temp.line_quantity(o, l) + 5) / 10
                      ELSE 0 END $$;

-- line_amount_cents is what line l of order o costs after its discount;
-- zero for lines beyond the order's item count.
CREATE FUNCTION pg_temp.line_amount_cents(o bigint, l integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN l <= pg_temp.item_count(o)
                      THEN pg_temp.price_cents(pg_temp.line_product(o, l)) * pg_temp.line_quantity(o, l)
                           - pg_temp.line_discount_cents(o, l)
                      ELSE 0 END $$;

-- order_total_cents adds up the lines of order o without reading them back,
-- so orders and order_items can be written independently and in parallel.
CREATE FUNCTION pg_temp.order_total_cents(o bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.line_amount_cents(o, 1) + pg_temp.line_amount_cents(o, 2) + pg_temp.line_amount_cents(o, 3)
                 + pg_temp.line_amount_cents(o, 4) + pg_temp.line_amount_cents(o, 5) $$;

-- order_customer is the customer who placed order o, out of customers. The
-- minimum of two draws makes some customers order often and some never.
CREATE FUNCTION pg_temp.order_customer(o bigint, customers bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (1 + least(pg_temp.h(o, 201) % customers, pg_temp.h(o, 202) % customers))::integer $$;

-- order_epoch is when order o of orders was placed, in seconds since 1970:
-- orders are spread over 2023–2025 in id order, with jitter.
CREATE FUNCTION pg_temp.order_epoch(o bigint, orders bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 1672531200 + (o - 1) * 94608000 / orders + pg_temp.h(o, 203) % 3600 $$;
