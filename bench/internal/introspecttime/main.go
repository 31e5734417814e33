// Command introspecttime times one catalog snapshot and one tool generation
// against a database and prints the medians as JSON, with what tools/list
// lists by default and the generator's token estimate of it; -tools-out
// writes that list (ToolSet.WriteJSON) for a real tokenizer to count. The
// benchmark harness runs it as a separate binary so that a package under
// construction costs the harness one scenario, not its build.
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
	TableTools int     `json:"table_tools_listed"`
	Discovery  bool    `json:"discovery_mode"`
	// EstimatedTokens is the listed tools' cost as the token budget
	// counts it (mcp.EstimateTokens).
	EstimatedTokens int `json:"estimated_tokens"`
}

func main() {
	dsn := flag.String("dsn", "", "database to introspect")
	reps := flag.Int("reps", 3, "repetitions (the median is printed)")
	toolsOut := flag.String("tools-out", "", "write the listed tools to this file, as ToolSet.WriteJSON does")
	flag.Parse()
	r, err := measure(*dsn, *reps, *toolsOut)
	if err != nil {
		fmt.Fprintf(os.Stderr, "introspecttime: %v\n", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func measure(dsn string, reps int, toolsOut string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var snapMs, genMs []float64
	var r result
	var last *mcp.ToolSet
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
		last = set
	}
	r.SnapshotMs, r.GenerateMs = middle(snapMs), middle(genMs)
	r.Tables, r.Tools, r.Discovery = len(last.Tables), len(last.Listed()), last.Discovery
	for _, t := range last.Listed() {
		r.EstimatedTokens += t.TokenCost()
	}
	for _, t := range last.Tables {
		if !t.Unlisted {
			r.TableTools++
		}
	}
	if toolsOut != "" {
		if err := writeTools(last, toolsOut); err != nil {
			return r, err
		}
	}
	return r, nil
}

func writeTools(set *mcp.ToolSet, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := set.WriteJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func middle(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
