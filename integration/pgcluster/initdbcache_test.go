package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The first cluster keeps initdb's output as initdb wrote it; the next
// one starts from a copy of it, and neither changes the cache. (Not
// parallel: it points TMPDIR at a directory of its own.)
func TestInitdbOutputIsCachedAndCopied(t *testing.T) {
	privateTempDir(t)
	ctx := context.Background()
	first, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	cache := initdbCacheDir(first.BinDir(), first.account)
	conf, err := os.ReadFile(filepath.Join(cache, "postgresql.conf"))
	if err != nil {
		t.Fatalf("no cached data directory after a start: %v", err)
	}
	if strings.Contains(string(conf), "pgmoat throwaway cluster") {
		t.Fatal("the cache holds a cluster's settings, not initdb's output")
	}
	// A file only the cache has shows which data directory a cluster
	// started from.
	marker := filepath.Join(cache, "pgmoat-cache-marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := os.Stat(filepath.Join(second.Dir(), "data", "pgmoat-cache-marker")); err != nil {
		t.Fatalf("the second cluster did not start from the cache: %v", err)
	}
	if err := second.Exec(ctx, "postgres", "CREATE DATABASE copied"); err != nil {
		t.Fatalf("the copied cluster does not serve: %v", err)
	}
	if conf2, _ := os.ReadFile(filepath.Join(cache, "postgresql.conf")); string(conf2) != string(conf) {
		t.Fatal("starting from the cache changed it")
	}
	for _, c := range []*Cluster{first, second} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left := clusterDirs(t); len(left) > 0 {
		t.Fatalf("left directories behind: %v", left)
	}
}

// A cache directory another user could have written (open to others, or
// someone else's) is not started from: the cluster runs initdb and
// serves, and the planted files stay out of it. (Not parallel: TMPDIR.)
func TestInitdbCacheOthersCouldWriteIsNotUsed(t *testing.T) {
	privateTempDir(t)
	ctx := context.Background()
	first, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache := initdbCacheDir(first.BinDir(), first.account)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(cache, "pgmoat-planted-marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	plants := []struct {
		name  string
		plant func() error
	}{
		{"open to others", func() error { return os.Chmod(cache, 0o777) }},
	}
	if os.Geteuid() == 0 {
		plants = append(plants, struct {
			name  string
			plant func() error
		}{"another user's", func() error {
			if err := os.Chmod(cache, 0o700); err != nil {
				return err
			}
			return os.Chown(cache, 65534, 65534) // nobody
		}})
	}
	for _, p := range plants {
		t.Run(p.name, func(t *testing.T) {
			if err := p.plant(); err != nil {
				t.Fatal(err)
			}
			c, err := Start(ctx, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := os.Stat(filepath.Join(c.Dir(), "data", "pgmoat-planted-marker")); err == nil {
				t.Fatal("the cluster started from a cache directory another user could have written")
			}
			if err := c.Exec(ctx, "postgres", "CREATE DATABASE fresh"); err != nil {
				t.Fatalf("the cluster does not serve: %v", err)
			}
		})
	}
}
