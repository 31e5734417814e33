package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsAfterKnownTraffic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	for range 5 {
		if _, err := conn.Exec(ctx, "SELECT count(*) FROM items"); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = conn.Exec(ctx, "DELETE FROM items")
	_, _ = conn.Exec(ctx, "SELECT 1/0")

	m := f.server.metrics
	for name, tc := range map[string]struct {
		got  float64
		want float64
	}{
		"selects allowed": {testutil.ToFloat64(m.statements.WithLabelValues("select", "allow")), 6},
		"dml denied":      {testutil.ToFloat64(m.statements.WithLabelValues("dml", "deny")), 1},
		"denial by rule":  {testutil.ToFloat64(m.denials.WithLabelValues("proxy", "statement.kind")), 1},
		"42501 errors":    {testutil.ToFloat64(m.errors.WithLabelValues("42501")), 1},
		"22012 errors":    {testutil.ToFloat64(m.errors.WithLabelValues("22012")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}

	srv := httptest.NewServer(promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pgmoat_proxy_statement_duration_seconds_count{kind="select"} 6`,
		`pgmoat_pool_connections{state="idle"}`,
		`pgmoat_proxy_client_connections 1`,
		`pgmoat_proxy_injection_round_trips_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
