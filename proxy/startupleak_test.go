package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStartupParametersDoNotLeakToTheNextBorrower: a client that chose a
// TimeZone at startup must not hand it to the next client of the same
// backend, who chose none.
func TestStartupParametersDoNotLeakToTheNextBorrower(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "Asia/Tokyo"
	cfg.RuntimeParams["DateStyle"] = "SQL, DMY"
	tokyo, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tokyo.Close(ctx)
	var tz, style string
	if err := tokyo.QueryRow(ctx, "SELECT current_setting('TimeZone'), current_setting('DateStyle')", pgx.QueryExecModeSimpleProtocol).Scan(&tz, &style); err != nil {
		t.Fatal(err)
	}
	if tz != "Asia/Tokyo" || style != "SQL, DMY" {
		t.Fatalf("the client's own settings: %q %q", tz, style)
	}
	plain := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var defaultTZ, defaultStyle string
	if err := plain.QueryRow(ctx, "SELECT current_setting('TimeZone'), current_setting('DateStyle')").Scan(&defaultTZ, &defaultStyle); err != nil {
		t.Fatal(err)
	}
	if defaultTZ == "Asia/Tokyo" || defaultStyle == "SQL, DMY" {
		t.Fatalf("the next borrower of the one backend got the previous client's settings: %q %q", defaultTZ, defaultStyle)
	}
}
