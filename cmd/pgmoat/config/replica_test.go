package config

import (
	"strings"
	"testing"
	"time"
)

func TestReplicasDefaultToThePrimarysPool(t *testing.T) {
	cfg, err := Parse([]byte(`
backend:
  dsn: host=primary dbname=shop
  pool: {min: 2, max: 8, acquire_timeout: 3s}
  replicas:
    - host=r1 dbname=shop
    - dsn: host=r2 dbname=shop
      pool: {max: 4}
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Backend
	if b.MaxReplicaLag.D() != 5*time.Second || b.Primary != PrimaryFallback {
		t.Fatalf("defaults: lag %s, primary %q", b.MaxReplicaLag.D(), b.Primary)
	}
	if len(b.Replicas) != 2 {
		t.Fatalf("replicas: %+v", b.Replicas)
	}
	r1, r2 := b.Replicas[0], b.Replicas[1]
	if r1.DSN.Value() != "host=r1 dbname=shop" || r1.Pool.Min != 2 || r1.Pool.Max != 8 || r1.Pool.AcquireTimeout.D() != 3*time.Second {
		t.Fatalf("replica 1: %+v", r1)
	}
	if r2.DSN.Value() != "host=r2 dbname=shop" || r2.Pool.Max != 4 || r2.Pool.Min != 2 || r2.Pool.AcquireTimeout.D() != 3*time.Second {
		t.Fatalf("replica 2: %+v", r2)
	}
}

func TestReplicaErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"primary mode", "backend:\n  primary: sometimes\n",
			`f.yaml line 2: backend.primary: must be fallback, never or always, got "sometimes"`},
		{"never without replicas", "backend:\n  primary: never\n",
			`backend.primary: is never, but backend.replicas lists no replica`},
		{"lag", "backend:\n  max_replica_lag: -1s\n",
			`f.yaml line 2: backend.max_replica_lag: must be positive`},
		{"lag text", "backend:\n  max_replica_lag: soon\n",
			`f.yaml line 2: "soon" is not a duration`},
		{"bad dsn", "backend:\n  replicas:\n    - 'postgres://u:pw@h:notaport/db'\n",
			`f.yaml line 2: backend.replicas[0]: not a valid PostgreSQL connection string`},
		{"duplicate", "backend:\n  dsn: host=a\n  replicas: [host=b, host=a]\n",
			`backend.replicas[1]: is the same DSN as backend.dsn; each host is listed once`},
		{"no dsn", "backend:\n  replicas:\n    - pool: {max: 3}\n",
			`backend.replicas[0]: has no dsn`},
		{"unknown key", "backend:\n  replicas:\n    - dsn: host=b\n      pol: {max: 3}\n",
			`f.yaml line 4: unknown key "pol"; did you mean "pool"? (in backend.replicas)`},
		{"replica pool", "backend:\n  replicas:\n    - dsn: host=b\n      pool: {min: 9, max: 3}\n",
			`backend.replicas[0].pool.min: must be between 0 and backend.replicas[0].pool.max (3), got 9`},
		{"list entry", "backend:\n  replicas:\n    - [a, b]\n",
			`backend.replicas: each entry is a DSN or a mapping with dsn and pool`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "f.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n  %v\nwant it to contain:\n  %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}
