package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Every subcommand answers -h with its flags and success, and an unknown
// flag with usage status, so scripts can tell asking from mistyping.
func TestEverySubcommandHelpIsASuccess(t *testing.T) {
	for name := range commands() {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			e := env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
			if code := run(e, []string{name, "-h"}); code != exitOK {
				t.Errorf("pgmoat %s -h exits %d, want %d; stderr: %s", name, code, exitOK, errb.String())
			}
			if !strings.Contains(strings.ToLower(errb.String()+out.String()), "usage") {
				t.Errorf("pgmoat %s -h printed no usage text", name)
			}
			out.Reset()
			errb.Reset()
			if code := run(e, []string{name, "--no-such-flag"}); code != exitUsage {
				t.Errorf("pgmoat %s --no-such-flag exits %d, want %d", name, code, exitUsage)
			}
		})
	}
}
