package main

import (
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/pgmoat/pgmoat/policy
cpu: AMD EPYC
BenchmarkDecide/hit/short-2         	12602818	        94.09 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecide/miss/join200B-2     	    6591	    179253 ns/op	    9495 B/op	      74 allocs/op
BenchmarkNoMem                      	     100	       12.5 ns/op
BenchmarkCustom-8                   	      10	       3.0 ns/op	       7.0 widgets/op
PASS
ok  	github.com/pgmoat/pgmoat/policy	12.3s
`
	got, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name          string
		iters         int64
		ns, b, allocs float64
	}{
		{"Decide/hit/short", 12602818, 94.09, 0, 0},
		{"Decide/miss/join200B", 6591, 179253, 9495, 74},
		{"NoMem", 100, 12.5, nan64, nan64},
		{"Custom", 10, 3.0, nan64, nan64},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d benchmarks, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Iterations != w.iters || !sameFloat(float64(g.NsPerOp), w.ns) ||
			!sameFloat(float64(g.BytesPerOp), w.b) || !sameFloat(float64(g.AllocsPerOp), w.allocs) {
			t.Errorf("benchmark %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestParseGoBenchBadMetric(t *testing.T) {
	if _, err := parseGoBench(strings.NewReader("BenchmarkX-2  10  abc ns/op\n")); err == nil {
		t.Fatal("a non-numeric metric was accepted")
	}
}
