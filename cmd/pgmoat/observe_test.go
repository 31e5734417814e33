package main

import (
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/mcp"
)

func TestToolStatsQuantiles(t *testing.T) {
	o := newObservers(nil)
	for i := 1; i <= 100; i++ {
		o.onCall(mcp.CallRecord{Tool: "query_orders", Duration: time.Duration(i) * time.Millisecond, Rows: 2, IsError: i%10 == 0})
	}
	o.onCall(mcp.CallRecord{Tool: "query_customers", Duration: time.Millisecond, Rows: 1})
	got := o.tools.snapshot()
	if len(got) != 2 || got[1].Name != "query_orders" {
		t.Fatalf("snapshot: %+v", got)
	}
	ord := got[1]
	if ord.Calls != 100 || ord.Errors != 10 || ord.P50 != 50*time.Millisecond || ord.P99 != 99*time.Millisecond || ord.RowsPerCall != 2 {
		t.Fatalf("query_orders: %+v", ord)
	}
}

func TestQuantileEdges(t *testing.T) {
	for _, tc := range []struct {
		n    int
		q    float64
		want time.Duration
	}{{0, 0.5, 0}, {1, 0.99, 1}, {2, 0.5, 1}, {2, 0.99, 2}, {1000, 0.99, 990}} {
		sorted := make([]time.Duration, tc.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		if got := quantile(sorted, tc.q); got != tc.want {
			t.Errorf("quantile(n=%d, %v) = %v, want %v", tc.n, tc.q, got, tc.want)
		}
	}
}
