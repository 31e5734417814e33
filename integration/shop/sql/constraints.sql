-- Keys are attached to the indexes built in indexes.sql, which is instant.
-- Foreign keys and checks are added NOT VALID (also instant) and validated
-- afterwards by validate.sql, several tables at a time; the result is the
-- same as validating them here, one after another.

ALTER TABLE account_managers ADD CONSTRAINT account_managers_pkey PRIMARY KEY USING INDEX account_managers_pkey;
ALTER TABLE account_managers ADD CONSTRAINT account_managers_email_key UNIQUE USING INDEX account_managers_email_key;
ALTER TABLE categories ADD CONSTRAINT categories_pkey PRIMARY KEY USING INDEX categories_pkey;
ALTER TABLE categories ADD CONSTRAINT categories_name_key UNIQUE USING INDEX categories_name_key;
ALTER TABLE products ADD CONSTRAINT products_pkey PRIMARY KEY USING INDEX products_pkey;
ALTER TABLE products ADD CONSTRAINT products_sku_key UNIQUE USING INDEX products_sku_key;
ALTER TABLE customers ADD CONSTRAINT customers_pkey PRIMARY KEY USING INDEX customers_pkey;
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE USING INDEX customers_email_key;
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey;
ALTER TABLE order_items ADD CONSTRAINT order_items_pkey PRIMARY KEY USING INDEX order_items_pkey;
ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_pkey PRIMARY KEY USING INDEX support_tickets_pkey;

ALTER TABLE categories ADD CONSTRAINT categories_parent_id_fkey
    FOREIGN KEY (parent_id) REFERENCES categories (id) NOT VALID;
ALTER TABLE products ADD CONSTRAINT products_category_id_fkey
    FOREIGN KEY (category_id) REFERENCES categories (id) NOT VALID;
ALTER TABLE products ADD CONSTRAINT products_price_check CHECK (price >= 0) NOT VALID;
ALTER TABLE customers ADD CONSTRAINT customers_account_manager_id_fkey
    FOREIGN KEY (account_manager_id) REFERENCES account_managers (id) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_total_amount_check CHECK (total_amount >= 0) NOT VALID;
ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_fkey
    FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;
ALTER TABLE order_items ADD CONSTRAINT order_items_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES products (id) NOT VALID;
ALTER TABLE order_items ADD CONSTRAINT order_items_quantity_check CHECK (quantity > 0) NOT VALID;
ALTER TABLE order_items ADD CONSTRAINT order_items_discount_check
    CHECK (discount >= 0 AND discount <= quantity * unit_price) NOT VALID;
ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_order_id_fkey
    FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;
ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_closed_at_check
    CHECK (closed_at IS NULL OR closed_at >= created_at) NOT VALID;
