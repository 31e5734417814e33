-- Ownership, row-level security and privileges of one shop database.

ALTER TYPE customer_tier OWNER TO shop_owner;
ALTER TYPE order_status OWNER TO shop_owner;
ALTER TYPE ticket_status OWNER TO shop_owner;
ALTER TYPE ticket_priority OWNER TO shop_owner;
ALTER TABLE account_managers OWNER TO shop_owner;
ALTER TABLE categories OWNER TO shop_owner;
ALTER TABLE products OWNER TO shop_owner;
ALTER TABLE customers OWNER TO shop_owner;
ALTER TABLE orders OWNER TO shop_owner;
ALTER TABLE order_items OWNER TO shop_owner;
ALTER TABLE support_tickets OWNER TO shop_owner;

-- Every caller sees only the customers they manage, and what hangs off those
-- customers. The caller is the account manager id in request.user_id, which
-- pgmoat injects per session. When it is unset or empty the comparison is
-- NULL, so no protected row is visible and no error is raised. FORCE makes
-- the policies bind the table owner too.
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY customers_managed_by_caller ON customers FOR SELECT
    USING (account_manager_id = NULLIF(current_setting('request.user_id', true), '')::integer);

ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
CREATE POLICY orders_of_managed_customers ON orders FOR SELECT
    USING (customer_id IN (
        SELECT c.id FROM customers c
        WHERE c.account_manager_id = NULLIF(current_setting('request.user_id', true), '')::integer));

ALTER TABLE order_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE order_items FORCE ROW LEVEL SECURITY;
CREATE POLICY order_items_of_managed_customers ON order_items FOR SELECT
    USING (order_id IN (
        SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id
        WHERE c.account_manager_id = NULLIF(current_setting('request.user_id', true), '')::integer));

ALTER TABLE support_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY support_tickets_of_managed_customers ON support_tickets FOR SELECT
    USING (customer_id IN (
        SELECT c.id FROM customers c
        WHERE c.account_manager_id = NULLIF(current_setting('request.user_id', true), '')::integer));

-- Nobody but the owner and pgmoat_reader gets anything, and pgmoat_reader
-- gets SELECT only. No role may create objects in public or temporary tables
-- in this database.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO pgmoat_reader;
GRANT SELECT ON account_managers, categories, products, customers, orders, order_items, support_tickets
    TO pgmoat_reader;

DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pgmoat_reader', current_database());
END
$$;
