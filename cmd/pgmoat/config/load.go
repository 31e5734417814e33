package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pgmoat/pgmoat/mcp"
)

// EnvConfig names the config file when --config is not given.
const EnvConfig = "PGMOAT_CONFIG"

// EnvBackendDSN overrides backend.dsn.
const EnvBackendDSN = "PGMOAT_BACKEND_DSN"

// maxConfigSize bounds what Load reads; a config is a few kilobytes.
const maxConfigSize = 4 << 20

// FieldError is a problem at one place of the config file.
type FieldError struct {
	File string
	Line int
	Msg  string
}

func (e *FieldError) Error() string {
	switch {
	case e.File != "" && strings.HasPrefix(e.Msg, "line "):
		return e.File + " " + e.Msg
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ResolvePath returns the config path to use: the flag value, else
// $PGMOAT_CONFIG, else "".
func ResolvePath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(EnvConfig)
}

// Load reads, decodes, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read config %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config %s is larger than %d bytes; is it the right file?", path, maxConfigSize)
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse decodes config text; file names the source in error messages.
func Parse(data []byte, file string) (*Config, error) {
	cfg := &Config{Path: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(err, file)
	}
	if dsn := os.Getenv(EnvBackendDSN); dsn != "" {
		cfg.Backend.DSN = Secret(dsn)
	}
	cfg.applyDefaults()
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc) // decoded fine above; only used for line numbers
	if err := cfg.validate(&doc); err != nil {
		return nil, withFile(err, file)
	}
	return cfg, nil
}

func withFile(err error, file string) error {
	var fe *FieldError
	if errors.As(err, &fe) && fe.File == "" {
		fe.File = file
	}
	return err
}

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)
var typeMismatch = regexp.MustCompile("line (\\d+): cannot unmarshal !!(\\w+) `?(.*?)`? into (\\S+)")

// decodeError turns yaml's messages into ones that name the key, its line,
// and what would have been right.
func decodeError(err error, file string) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.File = file
		return fe
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &FieldError{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		msgs = append(msgs, explain(e))
	}
	first := msgs[0]
	if len(msgs) > 1 {
		first += " (and " + strconv.Itoa(len(msgs)-1) + " more: " + strings.Join(msgs[1:], "; ") + ")"
	}
	return &FieldError{File: file, Msg: first}
}

func explain(yamlMsg string) string {
	if m := unknownField.FindStringSubmatch(yamlMsg); m != nil {
		known := knownKeys(m[3])
		msg := fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		if s := closest(m[2], known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if len(known) > 0 {
			msg += "; known keys here: " + strings.Join(known, ", ")
		}
		return msg
	}
	if m := typeMismatch.FindStringSubmatch(yamlMsg); m != nil {
		return fmt.Sprintf("line %s: %q is not valid here (expected %s)", m[1], m[3], friendlyType(m[4]))
	}
	return yamlMsg
}

func friendlyType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string", goType == "config.Secret":
		return "text"
	case strings.HasPrefix(goType, "map"):
		return "a mapping of names to settings"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a " + strings.TrimPrefix(goType, "config.") + " section"
}

// configTypes are the structs a key can be unknown in, by yaml's name.
var configTypes = []any{Config{}, Backend{}, Replica{}, Pool{}, Proxy{}, TLS{}, Profile{}, User{}, MCP{}, MCPHTTP{}, Caller{}, Admin{}, AdminUser{}, RLS{},
	mcp.GenerateOptions{}, mcp.ToolOverride{}, mcp.Entity{}, JWT{}, OAuth{}, ResultCache{}, Prompt{}, PromptArgument{}}

func knownKeys(typeName string) []string {
	for _, v := range configTypes {
		t := reflect.TypeOf(v)
		if t.String() != typeName {
			continue
		}
		var keys []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				keys = append(keys, name)
			}
		}
		sort.Strings(keys)
		return keys
	}
	return nil
}

// closest returns the known key within edit distance 2 of key, if any.
func closest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
