package live

import (
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// TestVolatilityCodesAgree: Catalog converts introspect's volatility to
// policy's as is, so the two must carry the same pg_proc codes.
func TestVolatilityCodesAgree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   introspect.Volatility
		want policy.Volatility
	}{{introspect.Immutable, policy.Immutable}, {introspect.Stable, policy.Stable}, {introspect.Volatile, policy.Volatile}} {
		if got := policy.Volatility(tc.in); got != tc.want {
			t.Errorf("%q became %v, want %v", byte(tc.in), got, tc.want)
		}
	}
}
