package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// tokenCounterDir is the counter the golden tools/list tests use: a Node
// script and the package.json that pins its tokenizer. The harness counts
// with the same one, so a figure in the report and a count in the golden
// files mean the same thing.
const tokenCounterDir = "mcp/testdata/tokens"

// installTokenizer copies the counter into the run's directory and
// installs its tokenizer from npm there, for the MCP and introspection
// scenarios. Without npm or node, token figures are reported as not
// counted and why.
func (e *env) installTokenizer(ctx context.Context) {
	if !e.o.wants(scMCP) && !e.o.wants(scIntrospect) {
		return
	}
	for _, bin := range []string{"npm", "node"} {
		if _, err := exec.LookPath(bin); err != nil {
			e.tokensErr = fmt.Errorf("%s is not installed, so no tokenizer runs", bin)
			return
		}
	}
	dir := filepath.Join(e.tmp, "tokens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.tokensErr = err
		return
	}
	for _, f := range []string{"package.json", "count.mjs"} {
		b, err := os.ReadFile(filepath.Join(e.root, tokenCounterDir, f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			e.tokensErr = err
			return
		}
	}
	start := time.Now()
	if err := npmInstall(ctx, dir, nil, "npm install of the tokenizer"); err != nil {
		e.tokensErr = err
		return
	}
	e.tokensDir = dir
	e.say("  tokenizer installed in %s", time.Since(start).Round(time.Millisecond))
}

// tokenCount is what the counter writes beside a tools/list file.
type tokenCount struct {
	Tokenizer string `json:"tokenizer"`
	Tools     []struct {
		Name   string `json:"name"`
		Tokens int    `json:"tokens"`
	} `json:"tools"`
	Total struct {
		Tokens int `json:"tokens"`
	} `json:"total"`
}

// countTokens counts every tool of file, a JSON object whose "tools" is a
// tools/list answer's array (x-pgmoat-* keys of a tool are left out of
// its count), with the real tokenizer.
func (e *env) countTokens(ctx context.Context, file string) (tokenCount, error) {
	if e.tokensDir == "" {
		if e.tokensErr == nil {
			return tokenCount{}, errors.New("no tokenizer was installed")
		}
		return tokenCount{}, e.tokensErr
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(e.tokensDir, "count.mjs"), file)
	if _, err := combinedOutput(cmd, "count tokens", 300); err != nil {
		return tokenCount{}, err
	}
	b, err := os.ReadFile(strings.TrimSuffix(file, ".json") + ".tokens.json")
	if err != nil {
		return tokenCount{}, err
	}
	var c tokenCount
	if err := json.Unmarshal(b, &c); err != nil {
		return tokenCount{}, fmt.Errorf("read token count: %w", err)
	}
	return c, nil
}

// discoveryTools are the tools pgmoat lists in place of table tools it
// does not list one by one.
var discoveryTools = []string{"list_tables", "describe_table", "query_table"}

// isTableTool tells a table tool by its name, as a client sees it.
func isTableTool(name string) bool {
	return strings.HasPrefix(name, "query_") && !contains(discoveryTools, name)
}

// sizeToolsList measures one server's tools/list answer: its bytes, and
// each tool's bytes and tokens. tools are the answer's tools, each as
// JSON; a count that cannot run leaves the tokens NaN with the reason.
func (e *env) sizeToolsList(ctx context.Context, target string, total int, tools []json.RawMessage) toolsListSize {
	s := toolsListSize{Target: target, Tools: len(tools), Bytes: total, Tokens: (total + 3) / 4, Counted: nan}
	for _, raw := range tools {
		var t struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &t)
		s.PerTool = append(s.PerTool, toolTokens{Name: t.Name, Table: isTableTool(t.Name), Bytes: len(raw), Counted: nan})
	}
	c, err := e.countToolList(ctx, target, tools)
	if err != nil {
		s.TokenError = err.Error()
		return s
	}
	s.Counted, s.Tokenizer = num(c.Total.Tokens), c.Tokenizer
	for i, t := range c.Tools {
		s.PerTool[i].Counted = num(t.Tokens)
	}
	return s
}

// countToolList writes tools as a file the counter reads and counts it.
func (e *env) countToolList(ctx context.Context, target string, tools []json.RawMessage) (tokenCount, error) {
	b, err := json.Marshal(map[string]any{"tools": tools})
	if err != nil {
		return tokenCount{}, err
	}
	file := filepath.Join(e.tmp, "tools-list-"+fileSafe(target)+".json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return tokenCount{}, err
	}
	c, err := e.countTokens(ctx, file)
	if err == nil && len(c.Tools) != len(tools) {
		err = fmt.Errorf("the counter counted %d tools of %d", len(c.Tools), len(tools))
	}
	return c, err
}

// fileSafe keeps the letters and digits of a target's name.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
}
