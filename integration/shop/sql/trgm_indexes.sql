-- Trigram indexes make substring and fuzzy name search (ILIKE '%...%',
-- similarity) fast. Built only when the server ships pg_trgm.

CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
CREATE INDEX customers_full_name_trgm_idx ON customers USING gin (full_name gin_trgm_ops);
CREATE INDEX support_tickets_subject_trgm_idx ON support_tickets USING gin (subject gin_trgm_ops);
