package mcp

import (
	"context"
	"encoding/json"
	"strconv"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Why this file exists. Left to itself the SDK encodes a tool result by
// reflection (a map per row, its keys sorted), escapes the text block,
// and then re-scans the whole answer twice more as raw JSON. A page's
// rows are already JSON once shapeRows is done, so the answer is written
// here in one pass from those bytes, and the SDK is handed a result that
// marshals to exactly them.

// encodedPage is the StructuredContent of a table tool's result: the
// structured content as JSON, plus the whole CallToolResult as JSON for
// sendEncoded. It marshals to the structured content, and the text block
// can be made again from the page, so a result that takes another path
// is still right.
type encodedPage struct {
	// whole is the CallToolResult: content (the text block) and
	// structuredContent; structured is its structuredContent part.
	whole, structured []byte
	pg                *page
	tool, wrapper     string
}

func (p *encodedPage) MarshalJSON() ([]byte, error) { return p.structured, nil }

// result is the page as an SDK result the SDK encodes itself.
func (p *encodedPage) result() *sdk.CallToolResult {
	return &sdk.CallToolResult{StructuredContent: p,
		Content: []sdk.Content{&sdk.TextContent{Text: renderText(p.tool, p.pg, p.wrapper)}}}
}

// encodePage makes the result of a page: its text rendering (renderText)
// and its structured content, written once from the encoded rows. The
// CallToolResult carries no Content of its own: sendEncoded sends the
// whole, or fills Content in from the page when the SDK must encode it.
func encodePage(pg *page, tool, wrapper string) *sdk.CallToolResult {
	head, tail := textFrame(tool, pg, wrapper)
	b := make([]byte, 0, len(head)+len(tail)+2*len(pg.rows)+len(pg.rows)/4+len(pg.NextCursor)+128)
	b = append(b, `{"content":[{"type":"text","text":"`...)
	b = appendJSONStringBody(b, head, false)
	b = appendJSONStringBody(b, pg.rows, false)
	b = appendJSONStringBody(b, tail, false)
	b = append(b, `"}],"structuredContent":`...)
	start := len(b)
	b = append(b, `{"rows":[`...)
	rows := len(b)
	b = append(b, pg.rows...)
	if len(pg.rows) > 0 {
		// One row per line: the newlines between them become commas,
		// and the last one goes.
		b = b[:len(b)-1]
		for i := rows; i < len(b); i++ {
			if b[i] == '\n' {
				b[i] = ','
			}
		}
	}
	b = append(b, `],"row_count":`...)
	b = strconv.AppendInt(b, int64(pg.RowCount), 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, pg.Truncated)
	if pg.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendJSONString(b, pg.NextCursor, true)
	}
	b = append(b, '}')
	end := len(b)
	b = append(b, '}')
	ep := &encodedPage{whole: b, structured: b[start:end:end], pg: pg, tool: tool, wrapper: wrapper}
	return &sdk.CallToolResult{StructuredContent: ep, Content: []sdk.Content{}}
}

// encodedResult is a tools/call result the SDK sends as the bytes it
// holds. Meta, which the SDK sets after the handler on requests of the
// per-request protocol (serverInfo), is kept.
type encodedResult struct {
	sdk.ResultBase
	raw []byte
	// complete marks a result of the per-request protocol, which says
	// resultType "complete" (the SDK sets that on its own result types
	// only).
	complete bool
	// splice, when set, is the table of the session's splicing writer:
	// the SDK then carries a placeholder the writer replaces by raw.
	splice *spliceTable
}

func (r *encodedResult) MarshalJSON() ([]byte, error) {
	raw := r.raw
	if len(r.Meta) > 0 || r.complete {
		var err error
		if raw, err = r.withHead(); err != nil {
			return nil, err
		}
	}
	if r.splice != nil {
		return r.splice.placeholder(raw), nil
	}
	return raw, nil
}

// withHead is raw with _meta and resultType put first.
func (r *encodedResult) withHead() ([]byte, error) {
	out := make([]byte, 0, len(r.raw)+256)
	out = append(out, '{')
	if len(r.Meta) > 0 {
		meta, err := json.Marshal(map[string]any(r.Meta))
		if err != nil {
			return nil, err
		}
		out = append(out, `"_meta":`...)
		out = append(append(out, meta...), ',')
	}
	if r.complete {
		out = append(out, `"resultType":"complete",`...)
	}
	return append(out, r.raw[1:]...), nil
}

// sendEncoded is receiving middleware: a tools/call answered with an
// encodedPage goes out as its pre-encoded bytes, through the writer's
// splice where the transport has one.
func (s *Server) sendEncoded(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		res, err := next(ctx, method, req)
		if err != nil || method != methodCallTool {
			return res, err
		}
		r, ok := res.(*sdk.CallToolResult)
		if !ok {
			return res, err
		}
		ep, ok := r.StructuredContent.(*encodedPage)
		if !ok {
			return res, err
		}
		if len(r.Meta) > 0 {
			return ep.result(), nil
		}
		return &encodedResult{raw: ep.whole, complete: perRequestProtocol(req), splice: splicingOf(ctx)}, nil
	}
}

// protocolPerRequest is the first protocol version whose requests name
// their version in _meta (SEP-2575) and whose results say resultType.
const protocolPerRequest = "2026-07-28"

// perRequestProtocol reports whether req is of the per-request protocol,
// as the SDK decides it.
func perRequestProtocol(req sdk.Request) bool {
	p, ok := req.GetParams().(*sdk.CallToolParamsRaw)
	if !ok || p == nil {
		return false
	}
	v, ok := p.Meta[sdk.MetaKeyProtocolVersion].(string)
	return ok && v >= protocolPerRequest
}
