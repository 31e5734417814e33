package main

import (
	"errors"
	"flag"
	"io"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

// newFlags starts a subcommand's flag set. Parse errors and usage go to
// stderr, and parsing returns the error so that the subcommand exits
// with its own code.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// configFlag defines --config, which falls back to $PGMOAT_CONFIG;
// without, if set, says what the subcommand uses when there is neither.
func configFlag(fs *flag.FlagSet, without string) *string {
	usage := "config file (default $" + config.EnvConfig
	if without != "" {
		usage += "; none: " + without
	}
	return fs.String("config", "", usage+")")
}

// parseOrHelp parses args for a subcommand whose -h is a success: it
// reports false and the exit code (exitOK after -h, exitUsage on an
// error) when the subcommand should stop.
func parseOrHelp(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	}
	return exitUsage, false
}
