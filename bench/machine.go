package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// machine describes where a run happened.
type machine struct {
	CPU        string            `json:"cpu"`
	Cores      int               `json:"cores"`
	MemoryMiB  int64             `json:"memory_mib"`
	Kernel     string            `json:"kernel"`
	OS         string            `json:"os"`
	Versions   map[string]string `json:"versions"`
	FileLimit  uint64            `json:"open_files_limit"`
	GoMaxProcs int               `json:"gomaxprocs"`
}

func describeMachine(e *env) machine {
	m := machine{Cores: runtime.NumCPU(), GoMaxProcs: runtime.GOMAXPROCS(0), Versions: map[string]string{}}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		for _, c := range strings.TrimSuffix(kb, " kB") {
			if c >= '0' && c <= '9' {
				n = n*10 + int64(c-'0')
			}
		}
		m.MemoryMiB = n / 1024
	}
	m.Kernel = cmdLine("uname", "-r")
	m.OS = osRelease()
	m.FileLimit, _ = raiseFileLimit()
	v := m.Versions
	v["go"] = runtime.Version()
	v["postgres"] = cmdLine(filepath.Join(e.cluster.BinDir(), "postgres"), "--version")
	v["pgbench"] = pgbenchVersion()
	v["pgbouncer"] = pgbouncerVersion()
	v["pgmoat"] = e.pgmoatVersion()
	v["node"] = cmdLine("node", "--version")
	if e.npmDir != "" {
		for _, p := range peerPackages {
			v[p.name] = npmPackageVersion(e.npmDir, p.name)
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func cmdLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "not available"
	}
	return strings.TrimSpace(firstLine(string(out)))
}

func npmPackageVersion(dir, pkg string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
	if err != nil {
		return "unknown"
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return "unknown"
	}
	return p.Version
}
