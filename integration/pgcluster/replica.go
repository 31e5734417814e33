package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// StartReplica makes a streaming replica of c, PostgreSQL's own way:
// pg_basebackup -R copies the primary's data directory over a replication
// connection as the superuser and writes standby.signal and
// primary_conninfo, and the copy starts on a port of its own (opts.Port,
// or a free one). The replica is a Cluster of its own: Close stops and
// removes it without touching the primary. Only opts.Port, opts.Settings
// and opts.Progress are used; the rest comes from the primary.
func (c *Cluster) StartReplica(ctx context.Context, opts Options) (*Cluster, error) {
	r, err := prepare(Options{BinDir: c.binDir})
	if err != nil {
		return nil, err
	}
	if err := r.startReplica(ctx, c, opts); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Cluster) startReplica(ctx context.Context, primary *Cluster, opts Options) error {
	progress(opts, "pg_basebackup")
	cmd := r.account.command(filepath.Join(r.binDir, "pg_basebackup"),
		"-D", r.dataDir, "-h", primary.Host(), "-p", strconv.Itoa(primary.Port()), "-U", Superuser,
		"-R", "-X", "stream", "-c", "fast", "--no-sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runContext(ctx, cmd); err != nil {
		return fmt.Errorf("pg_basebackup failed: %w\n%s", err, strings.TrimSpace(out.String()))
	}
	// The copied postgresql.conf points at the primary's socket
	// directory; later lines win.
	settings := map[string]string{"unix_socket_directories": r.sockDir, "hot_standby": "on"}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	var conf strings.Builder
	conf.WriteString("\n# pgmoat throwaway replica\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&conf, "%s = %s\n", k, quoteConf(settings[k]))
	}
	if err := appendFile(filepath.Join(r.dataDir, "postgresql.conf"), conf.String()); err != nil {
		return err
	}
	return r.serve(ctx, opts, "replica")
}

// ReplicaForTest starts a streaming replica of primary owned by one test
// and closes it at cleanup.
func ReplicaForTest(t TB, primary *Cluster, opts Options) *Cluster {
	t.Helper()
	return ownedByTest(t, "a streaming replica", func(ctx context.Context) (*Cluster, error) { return primary.StartReplica(ctx, opts) })
}

// WaitReplayed waits until replica has replayed everything the primary
// c had inserted into its WAL when it was called (inserted, not only
// written: test clusters commit with synchronous_commit off): after it,
// what the caller committed on the primary is visible on the replica.
func (c *Cluster) WaitReplayed(ctx context.Context, replica *Cluster) error {
	target, err := c.queryOne(ctx, "SELECT pg_current_wal_insert_lsn()::text")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		got, err := replica.queryOne(ctx, "SELECT (pg_last_wal_replay_lsn() >= '"+target+"'::pg_lsn)::text")
		if err == nil && got == "true" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica did not replay up to %s in time (%v): %w", target, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Promote ends recovery on a replica (pg_promote, waiting for it): it
// becomes a primary of its own, no longer following its old primary.
func (c *Cluster) Promote(ctx context.Context) error {
	got, err := c.queryOne(ctx, "SELECT pg_promote(true, 30)::text")
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if got != "true" {
		return errors.New("promote: the server did not leave recovery within 30s")
	}
	return nil
}

// Exec runs sql as the superuser in dbname.
func (c *Cluster) Exec(ctx context.Context, dbname, sql string) error {
	conn, err := pgconn.Connect(ctx, c.DSN(dbname))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql).ReadAll()
	return err
}

// queryOne returns the one text value sql yields in database postgres.
func (c *Cluster) queryOne(ctx context.Context, sql string) (string, error) {
	conn, err := pgconn.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	res := conn.ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return "", res.Err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return "", fmt.Errorf("%s: %d rows", sql, len(res.Rows))
	}
	return string(res.Rows[0][0]), nil
}
