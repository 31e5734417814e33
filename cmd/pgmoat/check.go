package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/policy"
)

// maxCheckInput bounds what check reads from stdin.
const maxCheckInput = 64 << 20

// checkResult is one verdict as --json prints it.
type checkResult struct {
	Statement string      `json:"statement"`
	Verdict   string      `json:"verdict"` // "allow" or "deny"
	SQLState  string      `json:"sqlstate,omitempty"`
	Rule      string      `json:"rule,omitempty"`
	Message   string      `json:"message,omitempty"`
	Kind      policy.Kind `json:"kind"`
	Relations []string    `json:"relations"`
	Functions []string    `json:"functions"`
	Rewritten string      `json:"rewritten,omitempty"`
}

// runCheck is `pgmoat check [--config F] [--profile P] [--json] [SQL ...]`.
// Each argument is judged as one simple-Query text; without arguments,
// stdin is split into statements. Exit 0 when all are allowed, 1 when any
// is denied, 2 on usage or config errors.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	cfgPath := configFlag(fs, "built-in readonly profile")
	profile := fs.String("profile", policy.DefaultProfile, "profile to judge with")
	asJSON := fs.Bool("json", false, "print verdicts as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: pgmoat check [--config F] [--profile P] [--json] [SQL ...]")
		fmt.Fprintln(stderr, "Judges each SQL argument as one query; with none, judges the statements on stdin.")
		fs.PrintDefaults()
	}
	if code, ok := parseOrHelp(fs, args); !ok {
		return code
	}
	engine, err := checkEngine(config.ResolvePath(*cfgPath))
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat check: %v\n", err)
		return exitUsage
	}
	if _, ok := engine.Profile(*profile); !ok {
		fmt.Fprintf(stderr, "pgmoat check: unknown profile %q\n", *profile)
		return exitUsage
	}
	statements, err := checkStatements(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat check: %v\n", err)
		return exitUsage
	}
	results := judge(engine, *profile, statements)
	if *asJSON {
		err = printJSON(stdout, results)
	} else {
		err = printText(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat check: %v\n", err)
		return exitUsage
	}
	for _, r := range results {
		if r.Verdict != "allow" {
			return exitNo
		}
	}
	return exitOK
}

func checkEngine(path string) (*policy.Engine, error) {
	if path == "" {
		return policy.New(policy.Options{})
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return policy.New(cfg.PolicyOptions())
}

// checkStatements returns the texts to judge: the arguments as given, or
// stdin split at top-level semicolons.
func checkStatements(args []string, stdin io.Reader) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	if stdin == nil {
		return nil, errors.New("no SQL given: pass statements as arguments or on stdin")
	}
	data, err := io.ReadAll(io.LimitReader(stdin, maxCheckInput+1))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > maxCheckInput {
		return nil, fmt.Errorf("stdin is larger than %d bytes", maxCheckInput)
	}
	statements, err := policy.Split(string(data))
	if err != nil {
		return nil, err
	}
	if len(statements) == 0 {
		return nil, errors.New("no SQL given: stdin holds no statement")
	}
	return statements, nil
}

func judge(e *policy.Engine, profile string, statements []string) []checkResult {
	out := make([]checkResult, 0, len(statements))
	for _, sql := range statements {
		v := e.Decide(policy.Identity{Profile: profile}, sql)
		r := checkResult{
			Statement: sql, Verdict: "allow", Kind: v.Kind,
			Relations: policy.RelationStrings(v.Relations), Functions: policy.FunctionStrings(v.Functions), Rewritten: v.Rewritten,
		}
		if err := v.Err(); err != nil {
			r.Verdict, r.SQLState, r.Rule, r.Message = "deny", err.SQLState, err.Rule, err.Message
		}
		out = append(out, r)
	}
	return out
}

func printJSON(w io.Writer, results []checkResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// printText prints one block per statement:
//
//	deny 42501 COMMIT; DROP TABLE orders
//	  pgmoat: multi_statement: 2 statements in one query; ...
//	allow select select * from orders
//	  rewritten: SELECT * FROM orders LIMIT 1000
func printText(w io.Writer, results []checkResult) error {
	var b strings.Builder
	for _, r := range results {
		if r.Verdict == "deny" {
			fmt.Fprintf(&b, "deny %s %s\n  %s\n", r.SQLState, oneLine(r.Statement), r.Message)
			continue
		}
		fmt.Fprintf(&b, "allow %s %s\n", r.Kind, oneLine(r.Statement))
		if r.Rewritten != "" {
			fmt.Fprintf(&b, "  rewritten: %s\n", r.Rewritten)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine folds a statement's whitespace so each verdict starts one line.
func oneLine(sql string) string {
	return strings.Join(strings.Fields(sql), " ")
}
