package shop

// Counts is the number of rows in each shop table.
type Counts struct {
	AccountManagers int64
	Categories      int64
	Products        int64
	Customers       int64
	Orders          int64
	OrderItems      int64
	SupportTickets  int64
}

// ByTable returns the counts keyed by table name.
func (c Counts) ByTable() map[string]int64 {
	return map[string]int64{
		"account_managers": c.AccountManagers,
		"categories":       c.Categories,
		"products":         c.Products,
		"customers":        c.Customers,
		"orders":           c.Orders,
		"order_items":      c.OrderItems,
		"support_tickets":  c.SupportTickets,
	}
}

// Per-scale volumes and fixed sizes; reference.sql holds the fixed rows.
const (
	customersPerScale = 1_000
	ordersPerScale    = 20_000
	ticketsPerScale   = 2_000
	productCount      = 500
	categoryCount     = 12
	managerCount      = 4
)

// Salts shared with the SQL: saltItemCount with pg_temp.item_count in
// functions.sql, saltManager with the manager draw in customers.sql.
const (
	saltItemCount = 101
	saltManager   = 3
)

// ExpectedCounts predicts the row counts Load produces at scale (values
// below 1 count as 1). Order lines vary per order; their total is computed
// with the same hash the server uses.
func ExpectedCounts(scale int) Counts {
	s := int64(max(scale, 1))
	c := Counts{
		AccountManagers: managerCount,
		Categories:      categoryCount,
		Products:        productCount,
		Customers:       customersPerScale * s,
		Orders:          ordersPerScale * s,
		SupportTickets:  ticketsPerScale * s,
	}
	c.OrderItems = itemsInOrders(1, c.Orders)
	return c
}

// itemsInOrders counts the lines of orders first..last.
func itemsInOrders(first, last int64) int64 {
	var n int64
	for o := first; o <= last; o++ {
		n += itemCount(o)
	}
	return n
}

// itemCount mirrors pg_temp.item_count: 1 to 5 lines per order.
func itemCount(o int64) int64 { return 1 + mix(o, saltItemCount)%5 }

// managerOf mirrors the account manager draw of customers.sql.
func managerOf(customer int64) int64 {
	switch d := mix(customer, saltManager) % 100; {
	case d < 22:
		return AliceID
	case d < 44:
		return BobID
	case d < 72:
		return 3
	default:
		return 4
	}
}

// injectionKinds is the number of distinct prompt-injection texts in
// tickets.sql.
const injectionKinds = 6

// injectionTargets picks the customers of the first prompt-injection
// tickets: alice's first customers for the first round of kinds, then bob's,
// so that each demo identity sees every kind of attack.
func injectionTargets(customers int64) []int32 {
	var alice, bob []int32
	for c := int64(1); c <= customers && (len(alice) < injectionKinds || len(bob) < injectionKinds); c++ {
		switch m := managerOf(c); {
		case m == AliceID && len(alice) < injectionKinds:
			alice = append(alice, int32(c))
		case m == BobID && len(bob) < injectionKinds:
			bob = append(bob, int32(c))
		}
	}
	return append(alice, bob...)
}
