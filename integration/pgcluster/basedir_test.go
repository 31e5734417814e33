package pgcluster

import (
	"os"
	"testing"
)

func TestBaseDirFollowsTMPDIRElseAMemoryFileSystem(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	if got := baseDir(); got != dir {
		t.Fatalf("with TMPDIR=%s, baseDir = %s", dir, got)
	}
	os.Unsetenv("TMPDIR") // t.Setenv restores it
	want := os.TempDir()
	if roomyMemDir(memDir) {
		want = memDir
	}
	if got := baseDir(); got != want {
		t.Fatalf("without TMPDIR, baseDir = %s, want %s", got, want)
	}
	for _, d := range []string{"/proc", dir + "/missing"} {
		if roomyMemDir(d) {
			t.Errorf("%s taken for a roomy tmpfs", d)
		}
	}
}
