package pgcluster

import (
	"os"
	"os/exec"
)

// SkipTB is TB with Skipf, for NeedTool.
type SkipTB interface {
	TB
	Skipf(format string, args ...any)
}

// NeedTool returns the path of a program a test runs. On a developer
// machine without it the test is skipped; under CI (CI set) a missing
// program is a failure, never a skip: .ci/deps installs every one.
func NeedTool(t SkipTB, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; CI must install it (.ci/deps does): %s", name, why)
	}
	t.Skipf("%s is not installed: %s", name, why)
	return ""
}
