package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	Name        string `json:"name"` // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	Iterations  int64  `json:"iterations"`
	NsPerOp     num    `json:"ns_per_op"`
	BytesPerOp  num    `json:"bytes_per_op"`
	AllocsPerOp num    `json:"allocs_per_op"`
}

var reBenchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// parseGoBench reads `go test -bench -benchmem` output and returns its
// benchmark lines in order; other lines (goos, PASS, ok) are skipped.
func parseGoBench(r io.Reader) ([]goBench, error) {
	var out []goBench
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := reBenchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		b := goBench{Name: m[1], NsPerOp: nan, BytesPerOp: nan, AllocsPerOp: nan}
		b.Iterations, _ = strconv.ParseInt(m[2], 10, 64)
		if err := b.readMetrics(m[3]); err != nil {
			return nil, fmt.Errorf("benchmark %s: %w", m[1], err)
		}
		out = append(out, b)
	}
	return out, sc.Err()
}

// readMetrics reads "value unit" pairs; units it does not know are kept out
// of the report rather than guessed at.
func (b *goBench) readMetrics(s string) error {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return fmt.Errorf("odd metric list %q", s)
	}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return fmt.Errorf("metric %q: %w", f[i], err)
		}
		switch f[i+1] {
		case "ns/op":
			b.NsPerOp = num(v)
		case "B/op":
			b.BytesPerOp = num(v)
		case "allocs/op":
			b.AllocsPerOp = num(v)
		}
	}
	return nil
}
