package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The binary must not link package testing: its flags would show in
// pgmoat's own, and it means test helpers leaked into production code
// (the demo's cluster helper takes small interfaces for that reason).
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if slices.Contains(strings.Fields(string(out)), "testing") {
		t.Fatal("cmd/pgmoat links package testing; find the import with: go list -f '{{.ImportPath}} {{.Imports}}' -deps ./cmd/pgmoat | grep -w testing")
	}
}
