package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	pid, pgrp, cpu, ok := parseStat("4242 (node (dbhub) x) S 1 4240 4240 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 100 0 0")
	if !ok || pid != 4242 || pgrp != 4240 || cpu != 3*time.Second {
		t.Errorf("pid %d pgrp %d cpu %v ok %v", pid, pgrp, cpu, ok)
	}
	if _, _, _, ok := parseStat("garbage"); ok {
		t.Error("garbage parsed")
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatalf("/proc/self/stat: %v (the harness reads CPU times from /proc)", err)
	}
	if pid, _, _, ok := parseStat(string(b)); !ok || pid != os.Getpid() {
		t.Errorf("/proc/self/stat: pid %d ok %v", pid, ok)
	}
}
