package main

import (
	"encoding/json"
	"math"
	"testing"
)

var nan64 = math.NaN()

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, nan64},
		{"only NaN", []float64{nan64, nan64}, nan64},
		{"one", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"NaN ignored", []float64{5, nan64, 1, 3}, 3},
		{"Inf ignored", []float64{math.Inf(1), 2, 4}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); !sameFloat(got, tc.want) {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMedianLeavesInputAlone(t *testing.T) {
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("median reordered its input: %v", in)
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, tc := range []struct {
		name string
		in   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, nan64},
		{"single", []float64{4}, 99, 4},
		{"p50 of 100", hundred, 50, 50},
		{"p99 of 100", hundred, 99, 99},
		{"p100", hundred, 100, 100},
		{"tiny p gives the minimum", hundred, 0.001, 1},
		{"p99 of 3 is the max", []float64{1, 2, 3}, 99, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); !sameFloat(got, tc.want) {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct{ a, b, want float64 }{
		{10, 5, 2}, {1, 0, nan64}, {nan64, 1, nan64}, {1, nan64, nan64}, {0, 4, 0},
	} {
		if got := ratio(tc.a, tc.b); !sameFloat(got, tc.want) {
			t.Errorf("ratio(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNumJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		A num `json:"a"`
		B num `json:"b"`
	}{num(1.5), nan})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":1.5,"b":null}` {
		t.Errorf("got %s", b)
	}
	var back struct {
		A num `json:"a"`
		B num `json:"b"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.A != 1.5 || back.B.ok() {
		t.Errorf("round trip gave %+v", back)
	}
}

func TestCellSummarize(t *testing.T) {
	mk := func(tps, p99 float64, failed int64) run {
		return run{pgbenchSummary: pgbenchSummary{TPS: num(tps), LatAvgMs: 1, ConnMs: nan, Failed: failed, HasSummary: true}, P50Ms: 1, P99Ms: num(p99)}
	}
	c := cell{Runs: []run{mk(100, 9, 0), mk(300, 3, 1), mk(200, 5, 0), failedRun(errString("boom"))}}
	c.summarize()
	if c.Median.TPS != 200 || c.Median.P99Ms != 5 || c.Median.Failed != 1 || c.Median.Error != "boom" {
		t.Errorf("median = %+v", c.Median)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
