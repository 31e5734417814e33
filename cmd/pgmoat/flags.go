package main

import (
	"errors"
	"flag"
	"fmt"
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

// loadConfig loads the config --config or $PGMOAT_CONFIG names, reporting
// problems the same way for every subcommand; orElse, when set, ends the
// message when neither names one. On a problem the config is nil and code
// is the exit code; path is the file read.
func loadConfig(cmd, flagPath, orElse string, stderr io.Writer) (cfg *config.Config, path string, code int) {
	path = config.ResolvePath(flagPath)
	if path == "" {
		fmt.Fprintf(stderr, "pgmoat %s: no config: pass --config FILE or set %s%s\n", cmd, config.EnvConfig, orElse)
		return nil, "", exitUsage
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat %s: %s\n", cmd, config.RedactDSN(err.Error()))
		return nil, path, exitUsage
	}
	return cfg, path, exitOK
}

// loadBackendConfig is loadConfig for a subcommand that connects to the
// backend: the config must name it (backend.dsn or $PGMOAT_BACKEND_DSN).
func loadBackendConfig(cmd, flagPath, orElse string, stderr io.Writer) (*config.Config, int) {
	cfg, path, code := loadConfig(cmd, flagPath, orElse, stderr)
	if cfg != nil && cfg.Backend.DSN == "" {
		fmt.Fprintf(stderr, "pgmoat %s: %s: backend.dsn is not set (or set %s)\n", cmd, path, config.EnvBackendDSN)
		return nil, exitUsage
	}
	return cfg, code
}
