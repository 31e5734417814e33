package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A client setting pgmoat puts in force per transaction is undone by
// the server at each transaction's end, and PostgreSQL reports the
// reported ones (GUC_REPORT) when they change at a ReadyForQuery: after
// a transaction block spanning several batches, the server would report
// its own value as the client's TimeZone, DateStyle or IntervalStyle,
// though the client's SET still holds. The client must go on being told
// what it set.
func TestClientSettingReportSurvivesATransactionBlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			a := f.connect(t, "alice", mode)
			sets := map[string]string{"TimeZone": "Asia/Tokyo", "DateStyle": "SQL, DMY", "IntervalStyle": "iso_8601", "application_name": "red"}
			for name, v := range sets {
				if _, err := a.Exec(ctx, "SET "+name+" = '"+v+"'", pgx.QueryExecModeSimpleProtocol); err != nil {
					t.Fatal(err)
				}
			}
			for round := range 2 {
				tx, err := a.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var tz string
				if err := tx.QueryRow(ctx, "SELECT current_setting('TimeZone')").Scan(&tz); err != nil || tz != "Asia/Tokyo" {
					t.Fatalf("in the block: %q, %v", tz, err)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				var one int
				if err := a.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
					t.Fatal(err)
				}
				for name, v := range sets {
					if got := a.PgConn().ParameterStatus(name); got != v {
						t.Fatalf("round %d: after the block the client is told %s = %q; it set %q", round, name, got, v)
					}
				}
			}
		})
	}
}
