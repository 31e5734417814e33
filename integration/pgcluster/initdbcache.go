package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// initdb runs the same command for every cluster and writes the same
// files, which cost about a second and a half of CPU and several seconds
// of wall time on a busy machine, once for each of the dozens of clusters a
// test run starts. So the first cluster's fresh data directory, before
// any setting of ours is added, is kept beside the clusters' directories
// (initdbCacheDir, in baseDir) and the clusters after it start from a file copy.
// The cache is keyed by everything that shapes initdb's output (the
// binaries, the arguments, the account), so an upgraded PostgreSQL or
// other arguments get a directory of their own.

// initdbCachePrefix names the cache directories. It is not dirPrefix:
// a cache has no postmaster and must not be swept as an abandoned cluster.
const initdbCachePrefix = "pgmoat-initdb-"

// initdbArgs are initdb's arguments after -D.
var initdbArgs = []string{"-U", Superuser, "--auth-local=trust", "--auth-host=scram-sha-256",
	"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}

// initdbCacheDir is where the data directory initdb writes for binDir
// run as account is kept; "" when the binaries cannot be read.
func initdbCacheDir(binDir string, account ServerAccount) string {
	h := sha256.New()
	fmt.Fprintf(h, "pgmoat initdb cache 1\n%s\n%s\n", binDir, strings.Join(initdbArgs, " "))
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(binDir, name))
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s %d %d\n", name, info.Size(), info.ModTime().UnixNano())
	}
	if account.cred != nil {
		fmt.Fprintf(h, "%d:%d\n", account.cred.Uid, account.cred.Gid)
	}
	return filepath.Join(baseDir(), initdbCachePrefix+hex.EncodeToString(h.Sum(nil))[:16])
}

// initdb fills the data directory: a copy of the cached one when there
// is one, else a run of initdb whose output is then cached. A cache that
// cannot be read or written only costs the run of initdb.
func (c *Cluster) initdb(ctx context.Context) error {
	cache := initdbCacheDir(c.binDir, c.account)
	if cache != "" && c.copyFromCache(ctx, cache) == nil {
		return nil
	}
	if err := c.runInitdb(ctx); err != nil {
		return err
	}
	if cache != "" {
		storeInitdbCache(ctx, c.dataDir, cache)
	}
	return nil
}

// copyFromCache copies the cached data directory to the cluster's and
// hands it to the server account (the copy belongs to whoever copied it).
// On failure it removes what it had copied.
func (c *Cluster) copyFromCache(ctx context.Context, cache string) error {
	if err := c.account.trusts(cache); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cache, "PG_VERSION")); err != nil {
		return err
	}
	if err := copyTree(ctx, cache, c.dataDir); err != nil {
		return errors.Join(err, os.RemoveAll(c.dataDir))
	}
	if err := c.account.Own(c.dataDir); err != nil {
		return errors.Join(err, os.RemoveAll(c.dataDir))
	}
	return nil
}

// trusts says whether the cache directory dir can only have been written
// by this process's user or the server account. The temporary directory
// is shared and the cache's name can be worked out by anyone, so another
// user could have put a directory there first, with a pg_hba.conf that
// lets anyone in or a postgresql.conf that loads a library of theirs
// into the server: such a directory is not used, and initdb runs.
func (a ServerAccount) trusts(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case !info.IsDir():
		return fmt.Errorf("initdb cache %s is not a directory", dir)
	case info.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("initdb cache %s is open to other users (mode %v)", dir, info.Mode().Perm())
	case !ok:
		return fmt.Errorf("initdb cache %s: no owner to check", dir)
	case int(st.Uid) == os.Geteuid(), a.cred != nil && st.Uid == a.cred.Uid:
		return nil
	}
	return fmt.Errorf("initdb cache %s belongs to another user (uid %d)", dir, st.Uid)
}

// storeInitdbCache copies a fresh data directory into the cache: into a
// directory of its own first, renamed into place when complete, so a
// reader never sees half a copy and of two processes storing at once the
// second one's rename fails and it removes its copy.
func storeInitdbCache(ctx context.Context, dataDir, cache string) {
	tmp, err := os.MkdirTemp(filepath.Dir(cache), dirPrefix+"initdb-")
	if err != nil {
		return
	}
	data := filepath.Join(tmp, "data")
	if copyTree(ctx, dataDir, data) != nil || os.Rename(data, cache) != nil {
		_ = os.RemoveAll(data)
	}
	_ = os.RemoveAll(tmp)
}

// copyTree copies the directory src to dst (which must not exist),
// keeping modes, and owners where the process may set them.
func copyTree(ctx context.Context, src, dst string) error {
	out, err := exec.CommandContext(ctx, "cp", "-pR", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy %s: %w: %s", src, err, strings.TrimSpace(string(out)))
	}
	return nil
}
