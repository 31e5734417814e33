package shop

import (
	"errors"
	"fmt"

	"github.com/pgmoat/pgmoat/policy"
)

const (
	// ReaderRole is the login role pgmoat uses as its backend role.
	ReaderRole = "pgmoat_reader"
	// OwnerRole owns the shop tables; it cannot log in.
	OwnerRole = "shop_owner"
	// DefaultReaderPassword is ReaderRole's password when Options leaves it empty.
	DefaultReaderPassword = "pgmoat_reader"
	// UserIDSetting is the setting the row-level security policies read.
	UserIDSetting = policy.DefaultRLSSetting

	// AliceID and BobID are the account managers behind the demo
	// identities alice and bob. Managers 3 and 4 own the remaining
	// customers, so neither demo identity sees every customer.
	AliceID = 1
	BobID   = 2
)

// Options configures Load. The zero value loads scale 1 with the default
// reader password, two connections and no progress output.
type Options struct {
	// Scale multiplies the data volume: scale 1 is 1,000 customers, 20,000
	// orders, about 60,000 order lines and 2,000 support tickets. Products
	// (500), categories and account managers do not scale. 0 means 1.
	Scale int
	// ReaderPassword is the password set for ReaderRole; "" means
	// DefaultReaderPassword. The role is shared by every database of the
	// cluster, so the last Load's password wins.
	ReaderPassword string
	// Workers is the number of connections that load and index in
	// parallel; 0 means 2.
	Workers int
	// Progress, when set, is told about each finished batch or step: the
	// table or phase name, what is done so far and the total. Calls never
	// overlap.
	Progress func(step string, done, total int64)
}

// ErrAlreadyLoaded is returned by Load when the target database already
// holds shop tables.
var ErrAlreadyLoaded = errors.New("shop: the database already holds the shop schema")

func (o Options) withDefaults() (Options, error) {
	if o.Scale < 0 {
		return o, fmt.Errorf("shop: scale %d is negative", o.Scale)
	}
	if o.Workers < 0 {
		return o, fmt.Errorf("shop: %d workers is negative", o.Workers)
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.ReaderPassword == "" {
		o.ReaderPassword = DefaultReaderPassword
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	return o, nil
}

// Tables lists every shop table, referenced tables first.
func Tables() []string {
	return []string{"account_managers", "categories", "products", "customers", "orders", "order_items", "support_tickets"}
}

// ProtectedTables lists the tables under row-level security.
func ProtectedTables() []string {
	return []string{"customers", "orders", "order_items", "support_tickets"}
}

// UnindexedColumns lists "table.column" names that deliberately have no
// index, so that filtering on them means a full scan.
func UnindexedColumns() []string {
	return []string{
		"customers.city", "customers.tier", "orders.note", "orders.total_amount",
		"orders.shipped_at", "order_items.quantity", "support_tickets.priority",
	}
}
