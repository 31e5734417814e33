package pgcluster

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dirPrefix names every cluster directory, so that directories abandoned by
// a crashed process can be recognised and swept.
const dirPrefix = "pgmoat-pg-"

// abandonAge is how old a cluster directory without a running postmaster
// must be before it counts as abandoned; younger ones may still be starting.
const abandonAge = 10 * time.Minute

// removeAbandonedDirs deletes cluster directories left behind by processes
// that died without calling Close (the kernel killed their postmaster
// through Pdeathsig, but nobody removed the files), where clusters are
// made now and in the temporary directory, where they were made when
// baseDir chose it.
func removeAbandonedDirs() {
	for _, base := range slices.Compact([]string{baseDir(), os.TempDir()}) {
		matches, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
		for _, dir := range matches {
			if isAbandoned(dir) {
				_ = os.RemoveAll(dir)
			}
		}
	}
}

func isAbandoned(dir string) bool {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() || time.Since(info.ModTime()) < abandonAge {
		return false
	}
	pid, ok := postmasterPID(filepath.Join(dir, "data", "postmaster.pid"))
	return !ok || !processAlive(pid)
}

func postmasterPID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
