package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// combinedOutput runs cmd and returns what it printed; when it fails, the
// error says what failed and quotes the start (limit bytes) of its output,
// which is where go, npm and node say why.
func combinedOutput(cmd *exec.Cmd, what string, limit int) ([]byte, error) {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", what, err, truncate(strings.TrimSpace(string(out)), limit))
	}
	return out, nil
}

// npmInstall installs pkgs (none: what dir's package.json names) into
// dir, without audit, funding or progress chatter; env is the
// environment npm runs with (nil: the harness's own).
func npmInstall(ctx context.Context, dir string, env []string, what string, pkgs ...string) error {
	args := append([]string{"install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", dir}, pkgs...)
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Env = env
	_, err := combinedOutput(cmd, what, 400)
	return err
}
