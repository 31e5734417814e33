package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit statuses shared by every subcommand.
const (
	exitOK    = 0
	exitNo    = 1 // a verdict or check said no
	exitUsage = 2 // usage, configuration or start-up error
)

// env is what a subcommand may touch of the outside world. Tests build one
// around buffers.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(e env, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"version": {"print version information", runVersion},
		"demo":    {"run pgmoat on a throwaway PostgreSQL with the shop database", runDemo},
		"serve":   {"run the PostgreSQL proxy (and MCP over HTTP)", runServe},
		"doctor":  {"check the backend role and schema pgmoat would serve", runDoctor},
		"mcp":     {"serve MCP over stdio to one local client (Claude Desktop, Claude Code)", runMCP},
		"check": {"judge SQL statements with the policy engine, offline", func(e env, a []string) int {
			return runCheck(a, e.stdin, e.stdout, e.stderr)
		}},
		"tools": {"print the MCP tools generated from the schema", func(e env, a []string) int {
			return runTools(a, e.stdout, e.stderr)
		}},
	}
}

func main() {
	startPprof(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(env{ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(e env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" {
		return runVersion(e, nil)
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "pgmoat: unknown command %q; run `pgmoat help` for the list\n", args[0])
		return exitUsage
	}
	return cmd.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "pgmoat puts a moat around PostgreSQL for AI agents.")
	fmt.Fprintln(w, "\nUsage: pgmoat <command> [flags]\n\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nRun `pgmoat <command> -h` for a command's flags. --config FILE (or PGMOAT_CONFIG) names the config file.")
}
