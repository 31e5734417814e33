package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoServerBinaries is returned when no PostgreSQL server binaries can be
// found. Its message tells the user how to install them.
var ErrNoServerBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found: " +
	"install them with `sudo apt-get install -y postgresql` (Debian/Ubuntu), " +
	"or point PGMOAT_PG_BINDIR at the directory that holds initdb and postgres")

// FindBinDir returns the directory holding initdb and postgres. It looks, in
// order, at PGMOAT_PG_BINDIR, `pg_config --bindir`, and
// /usr/lib/postgresql/*/bin with the newest major version first.
func FindBinDir() (string, error) {
	if dir := os.Getenv("PGMOAT_PG_BINDIR"); dir != "" {
		if hasServerBinaries(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("PGMOAT_PG_BINDIR=%s does not contain initdb and postgres: %w", dir, ErrNoServerBinaries)
	}
	for _, dir := range candidateBinDirs() {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrNoServerBinaries
}

func candidateBinDirs() []string {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	return append(dirs, debianBinDirs()...)
}

// debianBinDirs lists /usr/lib/postgresql/<major>/bin, newest major first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool {
		return majorOf(matches[i]) > majorOf(matches[j])
	})
	return matches
}

func majorOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}
