package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/policy"
)

// The discovery-mode tools: list_tables and describe_table answer from the
// tool set without touching the database; query_table runs the table
// tool's own validation and statement. All three know only the table tools
// tools/list would show the caller (visible, from Admit): a table the
// policy refuses the caller's profile (a schema it may not read, an
// inheritance child of a table with row-level security) is neither named,
// described, offered as a close match nor queried, so the discovery tools
// say no more than tools/list does (invariant 11).

func (s *Server) listTables(set *ToolSet, visible map[string]bool, raw json.RawMessage) *sdk.CallToolResult {
	spec, _ := set.Tool("list_tables")
	obj, err := decodeObject(raw)
	if err != nil {
		return errorResult(err.Error())
	}
	var query string
	limit := 0
	for _, k := range sortedKeys(obj) {
		switch k {
		case "query":
			q, ok := obj[k].(string)
			if !ok {
				return errorResult("query must be a string of words to look for.")
			}
			query = q
		case "limit":
			n, err := intArg("limit", obj[k], 1, 0)
			if err != nil {
				return errorResult(err.Error())
			}
			limit = min(n, spec.MaxRows)
		default:
			return errorResult(fmt.Sprintf("list_tables has no parameter %q; it takes query and limit.", k))
		}
	}
	tables, truncated := set.searchTables(query, limit, visible)
	if tables == nil {
		tables = []TableSummary{}
	}
	out := struct {
		Tables    []TableSummary `json:"tables"`
		Truncated bool           `json:"truncated"`
	}{tables, truncated}
	return jsonResult(out)
}

func (s *Server) describeTable(set *ToolSet, visible map[string]bool, raw json.RawMessage) *sdk.CallToolResult {
	key, res := tableArg(set, visible, raw, "describe_table", nil)
	if res != nil {
		return res
	}
	d, _ := set.DescribeTable(key)
	spec, _ := set.Table(key)
	d.Description = spec.describeFor(visible)
	return jsonResult(d)
}

func (s *Server) queryTable(ctx context.Context, id policy.Identity, set *ToolSet, visible map[string]bool, raw json.RawMessage) *sdk.CallToolResult {
	var rest map[string]any
	key, res := tableArg(set, visible, raw, "query_table", &rest)
	if res != nil {
		return res
	}
	spec, _ := set.Table(key)
	// filters and the fixed parameters become one argument object of the
	// table tool, checked exactly as a direct call would be.
	args := map[string]any{}
	for k, v := range rest {
		switch k {
		case "filters":
			f, ok := v.(map[string]any)
			if !ok {
				return errorResult("filters must be an object of filter parameters, e.g. {\"id\": 42}; describe_table lists them.")
			}
			for fk, fv := range f {
				p, ok := spec.Param(fk)
				if !ok || !p.Kind.IsFilter() {
					return errorResult(advice(spec, unknownParam(spec, fk)))
				}
				args[fk] = fv
			}
		case "order_by", "columns", "limit", "cursor":
			args[k] = v
		default:
			return errorResult(fmt.Sprintf("query_table has no parameter %q; it takes table, filters, order_by, columns, limit and cursor.", k))
		}
	}
	a, err := validateArgs(spec, args, s.opts.MaxValueBytes)
	if err != nil {
		return errorResult(advice(spec, err))
	}
	return s.execute(ctx, id, set, spec, a)
}

// tableArg reads the table parameter, a table among visible; rest, when
// non-nil, receives the other arguments. A table the caller may not see
// is answered as one that does not exist.
func tableArg(set *ToolSet, visible map[string]bool, raw json.RawMessage, tool string, rest *map[string]any) (string, *sdk.CallToolResult) {
	obj, err := decodeObject(raw)
	if err != nil {
		return "", errorResult(err.Error())
	}
	key, _ := obj["table"].(string)
	delete(obj, "table")
	if rest != nil {
		*rest = obj
	} else if len(obj) > 0 {
		return "", errorResult(tool + " takes only table.")
	}
	if key == "" {
		return "", errorResult(tool + " needs table: a name exactly as list_tables gives it.")
	}
	if spec, ok := set.Table(key); !ok || !visible[spec.Name] {
		hint := ""
		if hits, _ := set.searchTables(strings.ReplaceAll(key, "_", " "), 5, visible); len(hits) > 0 {
			names := make([]string, len(hits))
			for i, h := range hits {
				names[i] = h.Table
			}
			hint = " Close matches: " + strings.Join(names, ", ") + "."
		}
		return "", errorResult(fmt.Sprintf("There is no table %q. Call list_tables for the names.%s", key, hint))
	}
	return key, nil
}

func jsonResult(v any) *sdk.CallToolResult {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResult("pgmoat: internal error encoding the answer.")
	}
	return &sdk.CallToolResult{StructuredContent: json.RawMessage(b), Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}
}
