package shop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func queryInt(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// asUser opens a reader connection acting for userID ("" leaves the
// setting unset).
func asUser(t *testing.T, ctx context.Context, db, userID string) *pgx.Conn {
	t.Helper()
	conn := connect(t, ctx, cluster.DSNFor(ReaderRole, DefaultReaderPassword, db))
	if userID != "" {
		if _, err := conn.Exec(ctx, "SELECT set_config($1, $2, false)", UserIDSetting, userID); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// TestShop loads scale 1 twice, concurrently, into two databases of one
// cluster (the roles are shared, so this also exercises concurrent role
// set-up), then checks the first database and compares the two.
func TestShop(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 5*time.Minute)
	dbs := [2]string{pgcluster.NewDatabase(t, cluster), pgcluster.NewDatabase(t, cluster)}
	var calls [2][]progressCall
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := time.Now()
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Load(ctx, cluster.DSN(db), Options{Progress: func(step string, done, total int64) {
				calls[i] = append(calls[i], progressCall{step, done, total})
			}})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("two concurrent scale-1 loads took %v", time.Since(start).Round(time.Millisecond))
	db := dbs[0]
	super := connect(t, ctx, cluster.DSN(db))

	t.Run("counts", func(t *testing.T) { checkCounts(t, ctx, super, ExpectedCounts(1)) })
	t.Run("progress", func(t *testing.T) { checkProgress(t, calls[0], ExpectedCounts(1)) })
	t.Run("order totals", func(t *testing.T) { checkTotals(t, ctx, super) })
	t.Run("comments", func(t *testing.T) { checkComments(t, ctx, super) })
	t.Run("indexes", func(t *testing.T) { checkIndexes(t, ctx, super) })
	t.Run("constraints", func(t *testing.T) { checkConstraints(t, ctx, super) })
	t.Run("ownership", func(t *testing.T) { checkOwnership(t, ctx, super) })
	t.Run("roles", func(t *testing.T) { checkRoles(t, ctx, super) })
	t.Run("rls", func(t *testing.T) { checkRLS(t, ctx, super, db) })
	t.Run("read only", func(t *testing.T) { checkReadOnly(t, ctx, db) })
	t.Run("prompt injection", func(t *testing.T) { checkInjection(t, ctx, db) })
	t.Run("deterministic", func(t *testing.T) {
		a, b := checksums(t, ctx, super), checksums(t, ctx, connect(t, ctx, cluster.DSN(dbs[1])))
		for _, table := range Tables() {
			if a[table] != b[table] {
				t.Errorf("%s differs between two loads: %s vs %s", table, a[table], b[table])
			}
		}
	})
	t.Run("load twice", func(t *testing.T) {
		if err := Load(ctx, cluster.DSN(db), Options{}); !errors.Is(err, ErrAlreadyLoaded) {
			t.Fatalf("second load into %s: %v, want ErrAlreadyLoaded", db, err)
		}
	})
}

type progressCall struct {
	step        string
	done, total int64
}

func checkCounts(t *testing.T, ctx context.Context, conn *pgx.Conn, want Counts) {
	for table, n := range want.ByTable() {
		if got := queryInt(t, ctx, conn, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()); got != n {
			t.Errorf("%s has %d rows, want %d", table, got, n)
		}
	}
	if want.OrderItems < 2*want.Orders || want.OrderItems > 4*want.Orders {
		t.Errorf("%d lines for %d orders: expected about three per order", want.OrderItems, want.Orders)
	}
}

func checkProgress(t *testing.T, calls []progressCall, want Counts) {
	last := map[string]progressCall{}
	for _, c := range calls {
		if c.done > c.total || c.done <= last[c.step].done {
			t.Errorf("%s: progress %d/%d after %d", c.step, c.done, c.total, last[c.step].done)
		}
		last[c.step] = c
	}
	for _, table := range []string{"customers", "orders", "order_items", "support_tickets"} {
		if c := last[table]; c.done != want.ByTable()[table] || c.total != c.done {
			t.Errorf("%s: last progress %d/%d, want %d rows", table, c.done, c.total, want.ByTable()[table])
		}
	}
	for _, step := range []string{"reference", "indexes", "constraints", "analyze"} {
		if c, ok := last[step]; !ok || c.done != c.total {
			t.Errorf("%s: last progress %+v", step, c)
		}
	}
}

func checkTotals(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	bad := queryInt(t, ctx, conn, `
		SELECT count(*) FROM orders o
		JOIN (SELECT order_id, sum(quantity * unit_price - discount) AS s FROM order_items GROUP BY order_id) i
		  ON i.order_id = o.id
		WHERE i.s <> o.total_amount`)
	if bad != 0 {
		t.Errorf("%d orders whose total_amount is not the sum of their lines", bad)
	}
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM order_items i JOIN products p ON p.id = i.product_id
		WHERE i.unit_price <> p.price`); n != 0 {
		t.Errorf("%d order lines priced differently from their product", n)
	}
}

func checkComments(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `
		SELECT c.relname, a.attname
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND col_description(c.oid, a.attnum) IS NULL
		UNION ALL
		SELECT c.relname, '' FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var table, column string
		err := r.Scan(&table, &column)
		return table + "." + column, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("tables or columns without a COMMENT: %v", missing)
	}
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`); n != int64(len(Tables())) {
		t.Errorf("%d tables in public, want %d", n, len(Tables()))
	}
}

func checkIndexes(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	// A column counts as indexed when some index leads with it.
	const leads = `SELECT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a
		ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = to_regclass($1) AND a.attname = $2)`
	for _, tc := range UnindexedColumns() {
		table, column, _ := cutDot(tc)
		var indexed bool
		if err := conn.QueryRow(ctx, leads, table, column).Scan(&indexed); err != nil {
			t.Fatal(err)
		}
		if indexed {
			t.Errorf("%s is indexed, but is meant to show an unfilterable column", tc)
		}
	}
	for _, tc := range []string{"customers.email", "customers.account_manager_id", "orders.customer_id",
		"orders.created_at", "order_items.order_id", "order_items.product_id", "support_tickets.customer_id",
		"products.tags", "products.attributes"} {
		table, column, _ := cutDot(tc)
		var indexed bool
		if err := conn.QueryRow(ctx, leads, table, column).Scan(&indexed); err != nil {
			t.Fatal(err)
		}
		if !indexed {
			t.Errorf("%s has no index", tc)
		}
	}
	fts := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_indexes
		WHERE indexdef LIKE '%USING gin (to_tsvector(%' AND tablename IN ('support_tickets', 'products')`)
	if fts != 2 {
		t.Errorf("%d full-text GIN indexes, want 2", fts)
	}
	trgmAvailable := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'`)
	trgm := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%'`)
	if (trgmAvailable == 1) != (trgm == 3) {
		t.Errorf("pg_trgm available: %d; trigram indexes: %d", trgmAvailable, trgm)
	}
}

func cutDot(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func checkConstraints(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_constraint
		WHERE connamespace = 'public'::regnamespace AND NOT convalidated`); n != 0 {
		t.Errorf("%d constraints left NOT VALID", n)
	}
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_constraint
		WHERE connamespace = 'public'::regnamespace AND contype = 'f'`); n != 8 {
		t.Errorf("%d foreign keys, want 8", n)
	}
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
		AND c.relkind = 'r' AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')`); n != 0 {
		t.Errorf("%d tables without a primary key", n)
	}
}

func checkOwnership(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT relname, pg_get_userbyid(relowner), relrowsecurity, relforcerowsecurity
		FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	protected := map[string]bool{}
	for _, table := range ProtectedTables() {
		protected[table] = true
	}
	seen := 0
	for rows.Next() {
		var table, owner string
		var rls, force bool
		if err := rows.Scan(&table, &owner, &rls, &force); err != nil {
			t.Fatal(err)
		}
		if owner != OwnerRole {
			t.Errorf("%s is owned by %s, want %s", table, owner, OwnerRole)
		}
		if protected[table] {
			seen++
			if !rls || !force {
				t.Errorf("%s: row level security %v, forced %v; want both", table, rls, force)
			}
		} else if rls {
			t.Errorf("%s is public data but has row-level security", table)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(ProtectedTables()) {
		t.Errorf("found %d protected tables, want %d", seen, len(ProtectedTables()))
	}
}

func checkRoles(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	tests := []struct {
		role                                                string
		login, super, createdb, createrole, repl, bypassrls bool
	}{
		{role: ReaderRole, login: true},
		{role: OwnerRole},
	}
	for _, tt := range tests {
		var login, super, createdb, createrole, repl, bypass bool
		err := conn.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls
			FROM pg_roles WHERE rolname = $1`, tt.role).Scan(&login, &super, &createdb, &createrole, &repl, &bypass)
		if err != nil {
			t.Fatalf("%s: %v", tt.role, err)
		}
		got := [6]bool{login, super, createdb, createrole, repl, bypass}
		want := [6]bool{tt.login, tt.super, tt.createdb, tt.createrole, tt.repl, tt.bypassrls}
		if got != want {
			t.Errorf("%s: login, super, createdb, createrole, replication, bypassrls = %v, want %v", tt.role, got, want)
		}
	}
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
		WHERE r.rolname = $1`, ReaderRole); n != 0 {
		t.Errorf("%s is a member of %d roles, want none", ReaderRole, n)
	}
	var verifier string
	if err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, ReaderRole).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	if len(verifier) < 14 || verifier[:14] != "SCRAM-SHA-256$" {
		t.Errorf("%s's password is stored as %.14q…, want a SCRAM-SHA-256 verifier", ReaderRole, verifier)
	}
	// No table privilege beyond SELECT, on any table.
	if n := queryInt(t, ctx, conn, `SELECT count(*) FROM information_schema.table_privileges
		WHERE grantee = $1 AND privilege_type <> 'SELECT'`, ReaderRole); n != 0 {
		t.Errorf("%s holds %d table privileges other than SELECT", ReaderRole, n)
	}
}

// managedCounts are the rows user id uid should see in each protected table,
// computed as the superuser, who bypasses row-level security.
func managedCounts(t *testing.T, ctx context.Context, super *pgx.Conn, uid int) map[string]int64 {
	return map[string]int64{
		"customers": queryInt(t, ctx, super, `SELECT count(*) FROM customers WHERE account_manager_id = $1`, uid),
		"orders": queryInt(t, ctx, super, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
			WHERE c.account_manager_id = $1`, uid),
		"order_items": queryInt(t, ctx, super, `SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id
			JOIN customers c ON c.id = o.customer_id WHERE c.account_manager_id = $1`, uid),
		"support_tickets": queryInt(t, ctx, super, `SELECT count(*) FROM support_tickets s
			JOIN customers c ON c.id = s.customer_id WHERE c.account_manager_id = $1`, uid),
	}
}

func checkRLS(t *testing.T, ctx context.Context, super *pgx.Conn, db string) {
	all := ExpectedCounts(1)
	customerSets := map[int]map[int32]bool{}
	for _, uid := range []int{AliceID, BobID} {
		conn := asUser(t, ctx, db, fmt.Sprint(uid))
		want := managedCounts(t, ctx, super, uid)
		for _, table := range ProtectedTables() {
			got := queryInt(t, ctx, conn, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize())
			if got != want[table] || got == 0 || got >= all.ByTable()[table] {
				t.Errorf("user %d sees %d of %d %s, want %d (non-empty, not all)", uid, got, all.ByTable()[table], table, want[table])
			}
		}
		// What hangs off the visible customers is all the user sees.
		orphans := queryInt(t, ctx, conn, `SELECT
			(SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)) +
			(SELECT count(*) FROM order_items WHERE order_id NOT IN (SELECT id FROM orders)) +
			(SELECT count(*) FROM support_tickets WHERE customer_id NOT IN (SELECT id FROM customers))`)
		if orphans != 0 {
			t.Errorf("user %d sees %d rows whose parent it cannot see", uid, orphans)
		}
		if got := queryInt(t, ctx, conn, "SELECT count(*) FROM products"); got != all.Products {
			t.Errorf("user %d sees %d products, want all %d", uid, got, all.Products)
		}
		rows, err := conn.Query(ctx, "SELECT id FROM customers")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		customerSets[uid] = map[int32]bool{}
		for _, id := range ids {
			customerSets[uid][id] = true
		}
	}
	for id := range customerSets[AliceID] {
		if customerSets[BobID][id] {
			t.Errorf("customer %d is visible to both alice and bob", id)
		}
	}

	for _, tc := range []struct{ name, value string }{{"unset", ""}, {"empty", "''"}, {"reset", "reset"}} {
		t.Run(tc.name, func(t *testing.T) {
			conn := asUser(t, ctx, db, "")
			switch tc.value {
			case "''":
				if _, err := conn.Exec(ctx, "SELECT set_config($1, '', false)", UserIDSetting); err != nil {
					t.Fatal(err)
				}
			case "reset":
				if _, err := conn.Exec(ctx, "SELECT set_config($1, '1', false)", UserIDSetting); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, "RESET "+UserIDSetting); err != nil {
					t.Fatal(err)
				}
			}
			for _, table := range ProtectedTables() {
				if got := queryInt(t, ctx, conn, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()); got != 0 {
					t.Errorf("%s: %d rows visible without a user id", table, got)
				}
			}
			if got := queryInt(t, ctx, conn, "SELECT count(*) FROM products"); got != all.Products {
				t.Errorf("%d products visible without a user id, want %d", got, all.Products)
			}
		})
	}
	t.Run("not a number", func(t *testing.T) {
		// A malformed id is an error, never a wider view.
		conn := asUser(t, ctx, db, "1 OR true")
		_, err := conn.Exec(ctx, "SELECT count(*) FROM customers")
		if code := sqlState(err); code != "22P02" {
			t.Fatalf("malformed user id: %v, want SQLSTATE 22P02", err)
		}
	})
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func checkReadOnly(t *testing.T, ctx context.Context, db string) {
	conn := asUser(t, ctx, db, fmt.Sprint(AliceID))
	for _, sql := range []string{
		"INSERT INTO customers (id, email, full_name, city, country, tier, account_manager_id, marketing_opt_in, created_at) " +
			"VALUES (999999, 'x@example.com', 'X', 'Y', 'DE', 'standard', 1, false, now())",
		"UPDATE customers SET city = 'Nowhere'",
		"DELETE FROM orders",
		"UPDATE products SET price = 0",
		"TRUNCATE support_tickets",
		"CREATE TABLE public.evil (id int)",
		"CREATE TEMP TABLE evil (id int)",
		"CREATE SCHEMA evil",
		"ALTER TABLE customers DISABLE ROW LEVEL SECURITY",
		"DROP POLICY customers_managed_by_caller ON customers",
		"SET ROLE " + OwnerRole,
		"SELECT pg_read_file('/etc/hostname')",
	} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != "42501" {
			t.Errorf("%s: %v, want SQLSTATE 42501", sql, err)
		}
	}
}

func checkInjection(t *testing.T, ctx context.Context, db string) {
	for _, uid := range []int{AliceID, BobID} {
		conn := asUser(t, ctx, db, fmt.Sprint(uid))
		n := queryInt(t, ctx, conn, `SELECT count(*) FROM support_tickets
			WHERE body ILIKE '%ignore previous instructions%' OR body LIKE 'SYSTEM:%' OR body LIKE '%DROP TABLE%'`)
		if n == 0 {
			t.Errorf("user %d sees no prompt-injection ticket", uid)
		}
		kinds := queryInt(t, ctx, conn, `SELECT count(DISTINCT body) FROM support_tickets WHERE id % 100 = 37`)
		if kinds != injectionKinds {
			t.Errorf("user %d sees %d kinds of prompt injection, want %d", uid, kinds, injectionKinds)
		}
		// The full-text index serves ticket search.
		if got := queryInt(t, ctx, conn, `SELECT count(*) FROM support_tickets
			WHERE to_tsvector('english', body) @@ plainto_tsquery('english', 'admin mode')`); got == 0 {
			t.Errorf("user %d finds no ticket for 'admin mode'", uid)
		}
	}
}

// checksums fingerprints each table's full contents in key order.
func checksums(t *testing.T, ctx context.Context, conn *pgx.Conn) map[string]string {
	out := map[string]string{}
	for _, table := range Tables() {
		var sum string
		q := "SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\")) FROM " + pgx.Identifier{table}.Sanitize() + " t"
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		out[table] = sum
	}
	return out
}

func TestLoadCancelled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, time.Minute)
	db := pgcluster.NewDatabase(t, cluster)
	cctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	err := Load(cctx, cluster.DSN(db), Options{Scale: 5, Progress: func(step string, _, _ int64) {
		if step == "orders" {
			once.Do(cancel)
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled load returned %v, want context.Canceled", err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		in      Options
		want    Options
		wantErr bool
	}{
		{in: Options{}, want: Options{Scale: 1, ReaderPassword: DefaultReaderPassword, Workers: 2}},
		{in: Options{Scale: 3, ReaderPassword: "pw", Workers: 1}, want: Options{Scale: 3, ReaderPassword: "pw", Workers: 1}},
		{in: Options{Scale: -1}, wantErr: true},
		{in: Options{Workers: -1}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := tt.in.withDefaults()
		if (err != nil) != tt.wantErr {
			t.Errorf("%+v: error %v", tt.in, err)
			continue
		}
		if err == nil && (got.Scale != tt.want.Scale || got.ReaderPassword != tt.want.ReaderPassword || got.Workers != tt.want.Workers) {
			t.Errorf("%+v: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestExpectedCountsScale(t *testing.T) {
	one, three := ExpectedCounts(1), ExpectedCounts(3)
	if one != ExpectedCounts(0) {
		t.Errorf("scale 0 differs from scale 1")
	}
	if three.Customers != 3*one.Customers || three.Orders != 3*one.Orders || three.Products != one.Products {
		t.Errorf("scale 3 = %+v, scale 1 = %+v", three, one)
	}
	if got := itemsInOrders(1, one.Orders/2) + itemsInOrders(one.Orders/2+1, one.Orders); got != one.OrderItems {
		t.Errorf("split item count %d, whole %d", got, one.OrderItems)
	}
}

func TestStatements(t *testing.T) {
	stmts := statements("indexes.sql")
	if len(stmts) < 20 {
		t.Fatalf("indexes.sql split into %d statements", len(stmts))
	}
	for _, s := range stmts {
		if len(s) < 12 || s[:6] != "CREATE" {
			t.Errorf("unexpected statement %q", s)
		}
	}
}

// TestLoadScale100 runs the generator at the scale of the large demo and
// checks what depends on the scale: every batch writes the rows
// ExpectedCounts predicts (the loader checks each one) and the tables hold
// them; ids and e-mail addresses stay unique over 100,000 customers, 2M
// orders and 6M lines (the unique indexes are built); every reference and
// check holds (the constraints are validated). The rest of a load (the
// secondary and text-search indexes, row-level security, ANALYZE) runs the
// same statements at every scale, is checked by TestShop at scale 1, and
// took 65 of the 157 s a whole load took here under load. The tables are
// unlogged, which the data do not notice and which spares writing them
// twice (the rows took 38 s instead of 66). The time is logged, not
// asserted (timed assertions flake on shared machines). -short skips it.
func TestLoadScale100(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 6M order lines")
	}
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	start := time.Now()
	db := pgcluster.NewDatabase(t, cluster)
	dsn := cluster.DSN(db)
	main := connect(t, ctx, dsn)
	if err := execScript(ctx, main, "schema.sql"); err != nil {
		t.Fatalf("schema: %v", err)
	}
	for _, table := range Tables() {
		if _, err := main.Exec(ctx, "ALTER TABLE "+pgx.Identifier{table}.Sanitize()+" SET UNLOGGED"); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := Options{Scale: 100}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := openLoader(ctx, dsn, main, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close(context.WithoutCancel(ctx))
	phase := func(name string, jobs []job) {
		t.Helper()
		began := time.Now()
		if err := l.run(ctx, jobs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%-12s %3d jobs in %v", name, len(jobs), time.Since(began).Round(time.Millisecond))
	}
	phase("data", dataJobs(100))
	var unique []job
	for _, j := range indexJobs(false) {
		if strings.HasPrefix(strings.TrimSpace(j.sql), "CREATE UNIQUE INDEX") {
			unique = append(unique, j)
		}
	}
	if len(unique) != 11 {
		t.Fatalf("%d unique indexes in indexes.sql, want the 11 the keys need", len(unique))
	}
	phase("unique keys", unique)
	if err := execScript(ctx, main, "constraints.sql"); err != nil {
		t.Fatalf("constraints: %v", err)
	}
	validate, err := validateJobs(ctx, main)
	if err != nil {
		t.Fatal(err)
	}
	phase("constraints", validate)
	checkCounts(t, ctx, main, ExpectedCounts(100))
	checkConstraints(t, ctx, main)
	t.Logf("scale 100 generated and checked in %v", time.Since(start).Round(time.Millisecond))
}
