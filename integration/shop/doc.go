// Package shop builds "shop", the demo database pgmoat's tests, benchmarks
// and demo run against: a small online shop with account managers,
// customers, orders, order lines, products and support tickets.
//
// It owns the schema (tables, enums, keys, indexes and the COMMENTs that
// become tool descriptions), the deterministic data generator, the two roles
// pgmoat relies on and the row-level security that separates the demo
// identities:
//
//   - OwnerRole owns every shop table and cannot log in.
//   - ReaderRole is the backend role pgmoat connects as: LOGIN with a
//     password, SELECT on the shop tables and nothing else, never exempt from
//     row-level security.
//   - Customers, orders, order_items and support_tickets are visible only to
//     the account manager whose id is in the request.user_id setting: AliceID
//     and BobID each manage a disjoint, non-empty set of customers, and a
//     session without the setting sees none. Products, categories and
//     account managers are public.
//
// The generator runs inside the server (INSERT … SELECT over generate_series)
// and draws every value from a hash of the row number, so a given scale
// yields the same rows on every load, and a large scale loads in seconds:
// tables are filled in batches over several connections, indexes and keys
// are built afterwards, and statistics are gathered at the end.
//
// Some support tickets carry prompt-injection text on purpose, so that
// clients can be shown to treat query results as data.
package shop
