package shop

import (
	"embed"
	"strings"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// script returns an embedded SQL file; the names are fixed at build time,
// so a missing file is a programming error.
func script(name string) string {
	b, err := sqlFiles.ReadFile("sql/" + name)
	if err != nil {
		panic("shop: missing embedded sql/" + name)
	}
	return string(b)
}

// statements splits a file of simple statements (no dollar quoting, no
// semicolons inside literals) into one statement per element, dropping
// comments, so they can be spread over several connections.
func statements(name string) []string {
	var out []string
	for _, chunk := range strings.Split(script(name), ";\n") {
		var lines []string
		for _, line := range strings.Split(chunk, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out
}
