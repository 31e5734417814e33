package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The per-identity cap and the idle-transaction timeout: defaults that
// follow the pool's size, strict values, and both shown in SHOW CONFIG.
func TestFairnessKeys(t *testing.T) {
	for _, tc := range []struct {
		name, yaml  string
		perIdentity int
		idle        time.Duration
	}{
		{"defaults", "", 15, time.Minute},
		{"cap follows a smaller pool", "backend:\n  pool:\n    min: 1\n    max: 4\n", 3, time.Minute},
		{"cap of a one-backend pool", "backend:\n  pool:\n    min: 1\n    max: 1\n", 1, time.Minute},
		{"set", "backend:\n  pool:\n    max_per_identity: 20\nproxy:\n  idle_transaction_timeout: 5m\n", 20, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml), "f.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Backend.Pool.EffectiveMaxPerIdentity(); got != tc.perIdentity {
				t.Errorf("backend.pool.max_per_identity = %d, want %d", got, tc.perIdentity)
			}
			if got := cfg.Proxy.IdleTransactionTimeout.D(); got != tc.idle {
				t.Errorf("proxy.idle_transaction_timeout = %v, want %v", got, tc.idle)
			}
			rows := map[string]string{}
			for _, r := range cfg.Rows() {
				rows[r[0]] = r[1]
			}
			if rows["backend.pool.max_per_identity"] != strconv.Itoa(tc.perIdentity) || rows["proxy.idle_transaction_timeout"] != tc.idle.String() {
				t.Errorf("SHOW CONFIG rows: max_per_identity=%q idle_transaction_timeout=%q", rows["backend.pool.max_per_identity"], rows["proxy.idle_transaction_timeout"])
			}
		})
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"cap above max", "backend:\n  pool:\n    max: 10\n    max_per_identity: 11\n",
			"f.yaml line 4: backend.pool.max_per_identity: must be between 1 and backend.pool.max (10), got 11"},
		{"negative cap", "backend:\n  pool:\n    max_per_identity: -1\n",
			"backend.pool.max_per_identity: must be between 1 and backend.pool.max (20), got -1"},
		{"negative idle timeout", "proxy:\n  idle_transaction_timeout: -1s\n",
			"f.yaml line 2: proxy.idle_transaction_timeout: must be positive"},
		{"misspelt", "proxy:\n  idle_transaction_timout: 1s\n",
			`unknown key "idle_transaction_timout"; did you mean "idle_transaction_timeout"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "f.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
