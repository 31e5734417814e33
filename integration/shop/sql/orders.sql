-- Orders $1..$2 of $4, placed by customers 1..$3. Recent orders are still
-- pending, paid or on their way; older ones are delivered, bar a few
-- cancellations and refunds.
INSERT INTO orders (id, customer_id, status, created_at, shipped_at, total_amount, note)
SELECT o,
       pg_temp.order_customer(o, $3::bigint),
       status,
       to_timestamp(placed),
       CASE WHEN status IN ('shipped', 'delivered', 'refunded')
            THEN to_timestamp(placed + 3600 * (12 + pg_temp.h(o, 205) % 96)) END,
       pg_temp.order_total_cents(o) * 0.01,
       CASE WHEN pg_temp.h(o, 206) % 25 = 0
            THEN pg_temp.pick(ARRAY['Leave the parcel with the neighbour at number 12.',
                                    'Please ring twice, the bell is broken.',
                                    'Gift wrap please, it is a birthday present.',
                                    'Deliver to the back door.',
                                    'Call me before delivery.',
                                    'No invoice in the parcel, it is a gift.',
                                    'Office delivery, reception is open 9 to 5.',
                                    'Please combine with my previous order if possible.'], o, 207) END
FROM generate_series($1::bigint, $2::bigint) o
CROSS JOIN LATERAL (
    SELECT pg_temp.order_epoch(o, $4::bigint) AS placed,
           CASE WHEN pg_temp.h(o, 204) % 100 < 3 THEN 'cancelled'
                WHEN pg_temp.h(o, 204) % 100 < 5 THEN 'refunded'
                WHEN o * 1000 / $4::bigint >= 998 THEN 'pending'
                WHEN o * 1000 / $4::bigint >= 995 THEN 'paid'
                WHEN o * 1000 / $4::bigint >= 990 THEN 'shipped'
                ELSE 'delivered' END::order_status AS status
) s;
