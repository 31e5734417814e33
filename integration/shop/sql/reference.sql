-- Fixed reference data: the same at every scale.

INSERT INTO account_managers (id, full_name, email, region, hired_on) VALUES
    (1, 'Alice Archer',  'alice.archer@shop.example',  'North', '2019-03-04'),
    (2, 'Bob Brennan',   'bob.brennan@shop.example',   'South', '2020-09-14'),
    (3, 'Carmen Diaz',   'carmen.diaz@shop.example',   'West',  '2018-01-08'),
    (4, 'Dmitri Volkov', 'dmitri.volkov@shop.example', 'East',  '2021-05-17');

INSERT INTO categories (id, parent_id, name, description) VALUES
    (1,  NULL, 'Kitchen',     'Everything for cooking, brewing and serving.'),
    (2,  NULL, 'Outdoors',    'Gear for camping, hiking and cycling.'),
    (3,  NULL, 'Electronics', 'Audio, computing and smart-home devices.'),
    (4,  NULL, 'Home',        'Lighting, textiles and furnishings.'),
    (5,  1,    'Coffee',      'Grinders, brewers and accessories for coffee lovers.'),
    (6,  1,    'Cookware',    'Pans, pots and knives.'),
    (7,  2,    'Camping',     'Tents, stoves and sleeping gear.'),
    (8,  2,    'Cycling',     'Bike lights, locks and tools.'),
    (9,  3,    'Audio',       'Headphones and speakers.'),
    (10, 3,    'Computers',   'Keyboards, mice and monitors.'),
    (11, 4,    'Lighting',    'Lamps and bulbs for every room.'),
    (12, 4,    'Textiles',    'Blankets, cushions and towels.');

INSERT INTO products (id, sku, name, description, category_id, price, attributes, tags, active, created_at)
SELECT p,
       'SKU-' || lpad(p::text, 5, '0'),
       adjective || ' ' || noun || ' ' || chr(65 + (pg_temp.h(p, 13) % 26)::integer) || (100 + pg_temp.h(p, 14) % 900),
       'A ' || lower(adjective) || ' ' || lower(noun) || ' '
           || pg_temp.pick(ARRAY['with a stainless steel body', 'built from recycled materials',
                                 'with a two-year warranty', 'designed for everyday use',
                                 'with a rechargeable battery', 'that folds flat for storage',
                                 'with replaceable parts', 'tested in extreme conditions'], p, 15)
           || '. '
           || pg_temp.pick(ARRAY['Perfect as a gift.', 'Loved by professionals.', 'Easy to clean.',
                                 'Quiet in operation.', 'Ideal for small spaces.', 'Built to last for years.'], p, 16),
       category,
       pg_temp.price_cents(p) * 0.01,
       jsonb_build_object(
           'color', pg_temp.pick(ARRAY['black', 'white', 'red', 'blue', 'green', 'grey', 'orange'], p, 18),
           'weight_g', 50 + pg_temp.h(p, 19) % 5000,
           'warranty_years', 1 + pg_temp.h(p, 20) % 3,
           'made_in', pg_temp.pick(ARRAY['DE', 'IT', 'PT', 'CN', 'VN', 'PL', 'US'], p, 21)),
       CASE WHEN pg_temp.h(p, 22) % 3 = 0 THEN ARRAY[tag1] ELSE ARRAY[tag1, tag2] END,
       pg_temp.h(p, 23) % 100 >= 5,
       to_timestamp(1654074000 + 86400 * p)
FROM generate_series(1, 500) p
CROSS JOIN LATERAL (
    SELECT 5 + (pg_temp.h(p, 10) % 8)::integer AS category,
           pg_temp.pick(ARRAY['Compact', 'Premium', 'Classic', 'Ultralight', 'Smart', 'Rugged', 'Deluxe',
                              'Essential', 'Eco', 'Pro', 'Vintage', 'Modern', 'Portable', 'Heavy-Duty',
                              'Silent', 'Wireless'], p, 11) AS adjective,
           (pg_temp.h(p, 24) % 8)::integer AS t1,
           (pg_temp.h(p, 25) % 7)::integer AS t2
) c
CROSS JOIN LATERAL (
    SELECT (ARRAY['Espresso Grinder', 'Pour-Over Kettle', 'Milk Frother', 'Coffee Scale',
                  'Frying Pan', 'Stock Pot', 'Chef Knife', 'Cutting Board',
                  'Dome Tent', 'Camping Stove', 'Sleeping Bag', 'Head Torch',
                  'Bike Light', 'Folding Lock', 'Multi-Tool', 'Floor Pump',
                  'Headphones', 'Bluetooth Speaker', 'Earbuds', 'Turntable',
                  'Mechanical Keyboard', 'Wireless Mouse', 'USB-C Hub', 'Monitor Arm',
                  'Desk Lamp', 'Floor Lamp', 'LED Bulb', 'String Lights',
                  'Wool Blanket', 'Linen Cushion', 'Bath Towel', 'Table Runner'])
               [(category - 5) * 4 + 1 + (pg_temp.h(p, 12) % 4)::integer] AS noun,
           (ARRAY['bestseller', 'new', 'eco', 'gift', 'sale', 'limited', 'bundle', 'premium'])[1 + t1] AS tag1,
           (ARRAY['bestseller', 'new', 'eco', 'gift', 'sale', 'limited', 'bundle', 'premium'])[1 + (t1 + 1 + t2) % 8] AS tag2
) n;
