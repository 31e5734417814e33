package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Primary modes (backend.primary).
const (
	PrimaryFallback = "fallback"
	PrimaryNever    = "never"
	PrimaryAlways   = "always"
)

// DefaultMaxReplicaLag is backend.max_replica_lag's default.
const DefaultMaxReplicaLag = 5 * time.Second

// UnmarshalYAML takes a replica as its DSN alone or as a {dsn, pool}
// mapping, strictly: an unknown key in the mapping is an error, as it is
// everywhere else in the file.
func (r *Replica) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		r.DSN = Secret(node.Value)
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return &FieldError{Line: node.Line, Msg: "backend.replicas: each entry is a DSN or a mapping with dsn and pool"}
	}
	text, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	type plain Replica // no UnmarshalYAML: decoded field by field
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	var p plain
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.ReplaceAll(shiftLines(err.Error(), node.Line-1), "config.plain", "config.Replica")
		return &FieldError{Msg: explain(strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")) + " (in backend.replicas)"}
	}
	*r = Replica(p)
	return nil
}

var lineRef = regexp.MustCompile(`line \d+`)

// shiftLines makes the line numbers of an error about a re-encoded node
// the file's again.
func shiftLines(msg string, by int) string {
	return lineRef.ReplaceAllStringFunc(msg, func(m string) string {
		var n int
		_, _ = fmt.Sscanf(m, "line %d", &n)
		return fmt.Sprintf("line %d", n+by)
	})
}

// replicaDefaults fills a replica's unset pool sizes from backend.pool
// (min: backend.pool.min, at most the replica's max).
func replicaDefaults(b *Backend) {
	setDuration(&b.MaxReplicaLag, DefaultMaxReplicaLag)
	setString(&b.Primary, PrimaryFallback)
	for i := range b.Replicas {
		p, d := &b.Replicas[i].Pool, b.Pool
		setInt(&p.Max, d.Max)
		if p.Min == 0 {
			p.Min = min(d.Min, p.Max)
		}
		setDuration(&p.AcquireTimeout, d.AcquireTimeout.D())
		setDuration(&p.MaxLifetime, d.MaxLifetime.D())
		setDuration(&p.IdleTimeout, d.IdleTimeout.D())
		setInt(&p.MaxPerIdentity, d.MaxPerIdentity)
	}
}

// replicas checks the replica list and the routing keys.
func (v *validator) replicas(b Backend) {
	switch b.Primary {
	case PrimaryFallback, PrimaryNever, PrimaryAlways:
	default:
		v.addf("backend.primary", "must be fallback, never or always, got %q", b.Primary)
	}
	if b.MaxReplicaLag <= 0 {
		v.addf("backend.max_replica_lag", "must be positive")
	}
	if b.Primary == PrimaryNever && len(b.Replicas) == 0 {
		v.addf("backend.primary", "is never, but backend.replicas lists no replica: nothing could serve")
	}
	seen := map[string]int{b.DSN.Value(): -1}
	for i, r := range b.Replicas {
		key := fmt.Sprintf("backend.replicas[%d]", i)
		if r.DSN == "" {
			v.addAt([]string{"backend", "replicas"}, key, "has no dsn")
			continue
		}
		if err := parseDSN(r.DSN.Value()); err != nil {
			v.addAt([]string{"backend", "replicas"}, key, "not a valid PostgreSQL connection string (%s)", RedactCause(err))
		}
		if j, dup := seen[r.DSN.Value()]; dup {
			other := "backend.dsn"
			if j >= 0 {
				other = fmt.Sprintf("backend.replicas[%d]", j)
			}
			v.addAt([]string{"backend", "replicas"}, key, "is the same DSN as %s; each host is listed once", other)
		}
		seen[r.DSN.Value()] = i
		v.poolSizes(key+".pool", r.Pool, []string{"backend", "replicas"})
	}
}
