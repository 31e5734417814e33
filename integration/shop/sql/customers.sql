-- Customers $1..$2 of $3. Account managers 1 (alice) and 2 (bob) each look
-- after about a fifth of the customers; managers 3 and 4 share the rest, so
-- neither demo identity sees everything.
INSERT INTO customers (id, email, full_name, city, country, tier, account_manager_id, marketing_opt_in, created_at)
SELECT g,
       lower(first_name || '.' || translate(last_name, 'üíóá ', 'uioa') || '.' || g) || '@example.com',
       first_name || ' ' || last_name,
       (ARRAY['Berlin', 'Hamburg', 'Munich', 'Cologne', 'Paris', 'Lyon', 'Marseille', 'Madrid', 'Barcelona',
              'Valencia', 'Rome', 'Milan', 'Naples', 'Amsterdam', 'Rotterdam', 'Brussels', 'Antwerp', 'Vienna',
              'Zurich', 'Geneva', 'Copenhagen', 'Stockholm', 'Oslo', 'Helsinki', 'Warsaw', 'Krakow', 'Prague',
              'Lisbon', 'Porto', 'Dublin'])[place],
       (ARRAY['DE', 'DE', 'DE', 'DE', 'FR', 'FR', 'FR', 'ES', 'ES',
              'ES', 'IT', 'IT', 'IT', 'NL', 'NL', 'BE', 'BE', 'AT',
              'CH', 'CH', 'DK', 'SE', 'NO', 'FI', 'PL', 'PL', 'CZ',
              'PT', 'PT', 'IE'])[place],
       CASE WHEN tier_draw < 60 THEN 'standard' WHEN tier_draw < 85 THEN 'silver'
            WHEN tier_draw < 96 THEN 'gold' ELSE 'platinum' END::customer_tier,
       CASE WHEN manager_draw < 22 THEN 1 WHEN manager_draw < 44 THEN 2
            WHEN manager_draw < 72 THEN 3 ELSE 4 END,
       pg_temp.h(g, 5) % 100 < 40,
       to_timestamp(1640995200 + (g - 1) * 31536000 / $3::bigint + pg_temp.h(g, 6) % 86400)
FROM generate_series($1::bigint, $2::bigint) g
CROSS JOIN LATERAL (
    SELECT pg_temp.pick(ARRAY['Anna', 'Ben', 'Clara', 'David', 'Elena', 'Felix', 'Greta', 'Hugo', 'Ines', 'Jonas',
                              'Katja', 'Lars', 'Maria', 'Niko', 'Olga', 'Paul', 'Quinn', 'Rosa', 'Sven', 'Tara',
                              'Umar', 'Vera', 'Wim', 'Xenia', 'Yusuf', 'Zoe', 'Luca', 'Sofia', 'Mateo', 'Emma'], g, 1)
               AS first_name,
           pg_temp.pick(ARRAY['Müller', 'Schmidt', 'Martin', 'Bernard', 'García', 'López', 'Rossi', 'Russo',
                              'de Jong', 'Jansen', 'Peeters', 'Gruber', 'Meier', 'Hansen', 'Andersson', 'Nielsen',
                              'Korhonen', 'Nowak', 'Kowalski', 'Novák', 'Silva', 'Santos', 'Murphy', 'Kelly',
                              'Weber', 'Dubois', 'Moreau', 'Fischer', 'Costa', 'Berg'], g, 2)
               AS last_name,
           (1 + pg_temp.h(g, 7) % 30)::integer AS place,
           pg_temp.h(g, 4) % 100 AS tier_draw,
           pg_temp.h(g, 3) % 100 AS manager_draw
) d;
