// Command introspecttime times one catalog snapshot and one tool generation
// against a database and prints the medians as JSON. The benchmark harness
// runs it as a separate binary so that a package under construction costs
// the harness one scenario, not its build.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

type result struct {
	SnapshotMs float64 `json:"snapshot_ms"`
	GenerateMs float64 `json:"generate_ms"`
	Tables     int     `json:"tables"`
	Tools      int     `json:"tools"`
	Discovery  bool    `json:"discovery_mode"`
}

func main() {
	dsn := flag.String("dsn", "", "database to introspect")
	reps := flag.Int("reps", 3, "repetitions (the median is printed)")
	flag.Parse()
	r, err := measure(*dsn, *reps)
	if err != nil {
		fmt.Fprintf(os.Stderr, "introspecttime: %v\n", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func measure(dsn string, reps int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var snapMs, genMs []float64
	var r result
	for range max(reps, 1) {
		t0 := time.Now()
		snap, err := introspect.Load(ctx, conn)
		if err != nil {
			return r, err
		}
		t1 := time.Now()
		set, err := mcp.Generate(snap, mcp.GenerateOptions{})
		if err != nil {
			return r, err
		}
		t2 := time.Now()
		snapMs = append(snapMs, float64(t1.Sub(t0).Microseconds())/1000)
		genMs = append(genMs, float64(t2.Sub(t1).Microseconds())/1000)
		r.Tables, r.Tools, r.Discovery = len(set.Tables), len(set.Listed()), set.Discovery
	}
	r.SnapshotMs, r.GenerateMs = middle(snapMs), middle(genMs)
	return r, nil
}

func middle(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
