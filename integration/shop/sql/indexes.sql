-- Built after the bulk load, several at a time, the costliest first so that
-- the connections finish together. Unique indexes are later attached as
-- primary keys and unique constraints (constraints.sql).
-- Deliberately left without an index, so that filtering on them needs a full
-- scan: customers.city, customers.tier, orders.note, orders.total_amount,
-- orders.shipped_at, order_items.quantity, support_tickets.priority.

CREATE INDEX order_items_product_id_idx ON order_items (product_id);
CREATE UNIQUE INDEX order_items_pkey ON order_items (order_id, line_no);

CREATE INDEX support_tickets_body_fts_idx ON support_tickets USING gin (to_tsvector('english', body));
CREATE UNIQUE INDEX support_tickets_pkey ON support_tickets (id);
CREATE INDEX support_tickets_customer_id_idx ON support_tickets (customer_id);
CREATE INDEX support_tickets_order_id_idx ON support_tickets (order_id);
CREATE INDEX support_tickets_created_at_idx ON support_tickets (created_at);
CREATE INDEX support_tickets_status_idx ON support_tickets (status);

CREATE UNIQUE INDEX orders_pkey ON orders (id);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_status_idx ON orders (status);

CREATE UNIQUE INDEX customers_pkey ON customers (id);
CREATE UNIQUE INDEX customers_email_key ON customers (email);
CREATE INDEX customers_account_manager_id_idx ON customers (account_manager_id);
CREATE INDEX customers_country_idx ON customers (country);
CREATE INDEX customers_created_at_idx ON customers (created_at);

CREATE INDEX products_tags_idx ON products USING gin (tags);
CREATE INDEX products_attributes_idx ON products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_description_fts_idx ON products USING gin (to_tsvector('english', description));
CREATE UNIQUE INDEX products_pkey ON products (id);
CREATE UNIQUE INDEX products_sku_key ON products (sku);
CREATE INDEX products_category_id_idx ON products (category_id);
CREATE INDEX products_price_idx ON products (price);

CREATE UNIQUE INDEX categories_pkey ON categories (id);
CREATE UNIQUE INDEX categories_name_key ON categories (name);
CREATE INDEX categories_parent_id_idx ON categories (parent_id);

CREATE UNIQUE INDEX account_managers_pkey ON account_managers (id);
CREATE UNIQUE INDEX account_managers_email_key ON account_managers (email);
