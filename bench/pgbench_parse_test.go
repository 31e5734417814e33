package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePgbench(t *testing.T) {
	for _, tc := range []struct {
		file              string
		tps, avg, conn    float64
		processed, failed int64
		summary, aborted  bool
	}{
		{"pgbench-extended.txt", 12147.336112, 1.317, 21.447, 36412, 0, true, false},
		{"pgbench-connect.txt", 736.559866, 21.644, 10.511, 2210, 3, true, false},
		{"pgbench-aborted.txt", math.NaN(), math.NaN(), math.NaN(), 0, 0, false, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := parsePgbench(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"tps", float64(s.TPS), tc.tps}, {"latency", float64(s.LatAvgMs), tc.avg}, {"connection", float64(s.ConnMs), tc.conn}} {
				if !sameFloat(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if s.Processed != tc.processed || s.Failed != tc.failed {
				t.Errorf("processed/failed = %d/%d, want %d/%d", s.Processed, s.Failed, tc.processed, tc.failed)
			}
			if s.HasSummary != tc.summary || (s.AbortReason != "") != tc.aborted {
				t.Errorf("summary %v abort %q, want summary %v aborted %v", s.HasSummary, s.AbortReason, tc.summary, tc.aborted)
			}
		})
	}
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestParseLatencyLog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		log      string
		n        int
		failed   int64
		p50, p99 float64
		wantErr  bool
	}{
		{"empty", "", 0, 0, math.NaN(), math.NaN(), false},
		{"numbers", "0 1 1000 0 1700000000 1\n0 2 3000 0 1700000000 2\n1 1 2000 0 1700000000 3\n", 3, 0, 2, 3, false},
		{"failed and skipped lines", "0 1 500 0 1 1\n0 2 failed 0 1 2\n0 3 skipped 0 1 3 10\n", 1, 1, 0.5, 0.5, false},
		{"short lines ignored", "0 1\n\n0 2 700 0 1 1\n", 1, 0, 0.7, 0.7, false},
		{"garbage latency", "0 1 abc 0 1 1\n", 0, 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l latencyLog
			err := parseLatencyLog(strings.NewReader(tc.log), &l)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			l.sort()
			if len(l.micros) != tc.n || l.failed != tc.failed {
				t.Fatalf("%d latencies, %d failed; want %d, %d", len(l.micros), l.failed, tc.n, tc.failed)
			}
			if !sameFloat(float64(l.quantileMs(50)), tc.p50) || !sameFloat(float64(l.quantileMs(99)), tc.p99) {
				t.Errorf("p50/p99 = %v/%v, want %v/%v", l.quantileMs(50), l.quantileMs(99), tc.p50, tc.p99)
			}
		})
	}
}

func TestPgbenchArgs(t *testing.T) {
	ep := endpoint{addr: "127.0.0.1:6432", user: "u", db: "d"}
	for _, tc := range []struct {
		name string
		job  pgbenchJob
		want string
	}{
		{"one client", pgbenchJob{mode: "simple", clients: 1, duration: 3e9}, "-n -S -M simple -c 1 -j 1 -T 3 --log --log-prefix=p -h 127.0.0.1 -p 6432 -U u d"},
		{"connect per tx", pgbenchJob{mode: "extended", clients: 16, connect: true, duration: 2e9}, "-n -S -M extended -c 16 -j 2 -T 2 --log --log-prefix=p -h 127.0.0.1 -p 6432 -U u -C d"},
		{"headroom to connect", pgbenchJob{mode: "prepared", clients: 1000, duration: 2400e6}, "-n -S -M prepared -c 1000 -j 2 -T 12 --log --log-prefix=p -h 127.0.0.1 -p 6432 -U u d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.job.args(ep, "p"), " "); got != tc.want {
				t.Errorf("args\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
