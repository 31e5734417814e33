package mcp

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// MetaRequestID is the params._meta key under which pgmoat's transports
// hand a tools/call request's JSON-RPC id to the tool handler.
//
// Why: the SDK keeps the id of the request being served to itself, yet a
// tool-call log record is only useful if it can be matched with the
// client's own record of the same request. So every incoming tools/call is
// stamped with its id before the SDK reads it, always overwriting what
// the client put under this key: a client cannot make its call look like
// another one.
//
// The value is the id as JSON text: a number as digits (7), a string
// quoted ("abc"). Quoting keeps id 7 and id "7" apart and can never be
// mistaken for an id pgmoat generates.
const MetaRequestID = "pgmoat/request_id"

const methodCallTool = "tools/call"

// StampRequestIDs returns body, a JSON-RPC payload (one message or a
// batch), with every tools/call request stamped with its id under
// MetaRequestID; a tools/call without an id loses whatever the client put
// there. A body with no tools/call in it, or one that is not valid JSON,
// comes back unchanged (the same slice), for the SDK to answer. Bytes
// after the first JSON value, which the SDK ignores, are dropped from a
// stamped body.
func StampRequestIDs(body []byte) []byte {
	if !mayCallTool(body) {
		return body
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		if out, ok := stampMessage(body); ok {
			return out
		}
		return body
	}
	var batch []json.RawMessage
	if decodeFirst(body, &batch) != nil {
		return body
	}
	changed := false
	for i, m := range batch {
		if out, ok := stampMessage(m); ok {
			batch[i], changed = out, true
		}
	}
	if !changed {
		return body
	}
	out, err := marshal(batch)
	if err != nil {
		return body
	}
	return out
}

// mayCallTool is the cheap test that lets most payloads through without a
// decode: a method that decodes to tools/call is either written out
// literally or spelled with an escape, which needs a backslash.
func mayCallTool(body []byte) bool {
	return bytes.Contains(body, []byte(methodCallTool)) || bytes.IndexByte(body, '\\') >= 0
}

// stampMessage stamps one message; ok is false when it is not a tools/call
// request whose params could be stamped, and it must then pass unchanged.
func stampMessage(raw []byte) (out []byte, ok bool) {
	if out, ok, decided := stampPlainMessage(raw); decided {
		return out, ok
	}
	return stampDecoded(raw)
}

// stampDecoded is stampMessage by decoding the message, for every kind.
func stampDecoded(raw []byte) (out []byte, ok bool) {
	var msg map[string]json.RawMessage
	if decodeFirst(raw, &msg) != nil {
		return nil, false
	}
	var method string
	if json.Unmarshal(msg["method"], &method) != nil || method != methodCallTool {
		return nil, false
	}
	params, ok := stampParams(msg["params"], messageID(msg["id"]))
	if !ok {
		return nil, false
	}
	msg["params"] = params
	return writeObject(msg), true
}

// stampPlainMessage is stampMessage for the usual message, read by a
// scan instead of a decode: one object with nothing after it, no
// backslash anywhere (so every name and string is as written), no name
// twice, and an id that is absent, a plain integer or a string.
// decided is false when the message is not of that kind and the decoding
// path must stamp it.
func stampPlainMessage(raw []byte) (out []byte, ok, decided bool) {
	var buf [8]rawMember
	c, isCall, decided := readPlainCall(raw, buf[:0])
	if !decided || !isCall {
		return nil, false, decided // not a tools/call: the decoding path says the same
	}
	if !c.hasParams {
		return nil, false, true // nothing to stamp: the decoding path says the same
	}
	stamped, ok := stampParams(c.params, c.id)
	if !ok {
		return nil, false, true
	}
	// Written as writeObject writes the decoded message (names sorted,
	// values as they are), so that either path makes the same bytes and
	// stamping twice changes nothing.
	members := c.members
	slices.SortFunc(members, func(a, b rawMember) int { return strings.Compare(a.name, b.name) })
	out = make([]byte, 0, len(raw)+len(stamped)-len(c.params)+2)
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(appendKey(out, m.name), ':')
		if m.name == "params" {
			out = append(out, stamped...)
		} else {
			out = append(out, m.value...)
		}
	}
	return append(out, '}'), true, true
}

// plainCall is a message as readPlainCall scans it.
type plainCall struct {
	members   []rawMember
	id        string // as idText writes it; "" when absent
	params    []byte
	hasParams bool
}

// readPlainCall scans the message stampPlainMessage takes. decided is
// false when raw is not of that kind (a backslash, not one object, a
// name twice, an id that is not plain); isCall says whether its method
// is tools/call.
func readPlainCall(raw []byte, buf []rawMember) (c plainCall, isCall, decided bool) {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return c, false, false
	}
	members, scanned := scanMembers(raw, buf)
	if !scanned {
		return c, false, false
	}
	var method, id []byte
	hasID := false
	for i, m := range members {
		for _, earlier := range members[:i] {
			if earlier.name == m.name {
				return c, false, false
			}
		}
		switch m.name {
		case "method":
			method = m.value
		case "id":
			id, hasID = m.value, true
		case "params":
			c.params, c.hasParams = m.value, true
		}
	}
	if string(method) != `"`+methodCallTool+`"` {
		return c, false, true
	}
	text, plain := plainID(id, hasID)
	if !plain {
		return c, false, false
	}
	c.members, c.id = members, text
	return c, true, true
}

// plainCallID is the id of raw, as idText writes it ("" when absent),
// when raw is one tools/call of the kind stampPlainMessage reads, whose
// params are an object; ok is false for any other message.
func plainCallID(raw []byte) (id string, ok bool) {
	var buf [8]rawMember
	c, isCall, decided := readPlainCall(raw, buf[:0])
	if !decided || !isCall || !c.hasParams {
		return "", false
	}
	if p := bytes.TrimLeft(c.params, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return "", false
	}
	return c.id, true
}

// plainID is messageID for the ids stampPlainMessage takes: none (""),
// an integer written in its shortest form that a float64 holds exactly
// (the text as it is), or a string without escapes (its text, quotes
// included). plain is false for every other id.
func plainID(id []byte, present bool) (text string, plain bool) {
	switch {
	case !present:
		return "", true
	case len(id) >= 2 && id[0] == '"':
		for _, c := range id {
			if c >= utf8.RuneSelf {
				return "", false // U+2028 and U+2029 are escaped when marshalled
			}
		}
		return string(id), true // no backslash in the message: as written is as marshalled
	case len(id) == 0 || len(id) > 15:
		return "", false
	}
	digits := id
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] == '0' && len(digits) > 1 {
		return "", false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	if string(id) == "-0" {
		return "", false
	}
	return string(id), true
}

// decodeFirst decodes the first JSON value of data and ignores what
// follows it, as the SDK's decoder does: a payload the SDK reads must not
// escape the stamp by carrying trailing bytes.
func decodeFirst(data []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// messageID is the id of a message as idText writes it; "" when absent,
// null or not a valid id, so that an id the stamp cannot reproduce clears
// the key rather than leaving the client's value in place.
func messageID(raw json.RawMessage) string {
	var v any
	if raw == nil || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	id, err := jsonrpc.MakeID(v)
	if err != nil {
		return ""
	}
	return idText(id)
}

// stampParams sets _meta[MetaRequestID] to id in a tools/call's params,
// or removes it when id is "" (a notification has no id to claim). ok is
// false when there was nothing to change or params (or their _meta) are
// not an object: the SDK then refuses the call before any handler runs,
// so nothing unstamped reaches one.
func stampParams(params json.RawMessage, id string) (json.RawMessage, bool) {
	if out, ok := stampPlainParams(params, id); ok {
		return out, true
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) != nil || p == nil {
		return nil, false
	}
	var meta map[string]json.RawMessage
	if m, present := p["_meta"]; present && json.Unmarshal(m, &meta) != nil {
		return nil, false
	}
	if id == "" {
		if _, present := meta[MetaRequestID]; !present {
			return nil, false
		}
		delete(meta, MetaRequestID)
	} else {
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		v, err := marshal(id)
		if err != nil {
			return nil, false
		}
		meta[MetaRequestID] = v
	}
	p["_meta"] = writeObject(meta)
	return writeObject(p), true
}

// stampPlainParams is stampParams for the usual call, whose params
// cannot hold a _meta key (plainRest), or which this function stamped
// already (then they come back as they are). The key is added at the front of the
// object without decoding or re-encoding the rest: what the SDK reads is
// what the general path writes, less the work. ok is false when the
// general path must decide (including an id of "", where there is no
// stamp to add and none to remove).
func stampPlainParams(params json.RawMessage, id string) (json.RawMessage, bool) {
	if id == "" {
		return nil, false
	}
	t := bytes.TrimLeft(params, " \t\r\n")
	stamp := make([]byte, 0, len(t)+len(MetaRequestID)+len(id)+24)
	stamp = append(stamp, `{"_meta":{`...)
	stamp = appendKey(stamp, MetaRequestID)
	stamp = append(stamp, ':')
	stamp = appendKey(stamp, id)
	stamp = append(stamp, '}')
	if rest, done := bytes.CutPrefix(t, stamp); done && plainRest(rest) && json.Valid(t) {
		// Stamped already, by this function: the same bytes come out, so
		// that stamping twice changes nothing.
		return t, true
	}
	if !plainRest(params) || len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, false
	}
	rest := t[1:]
	if r := bytes.TrimLeft(rest, " \t\r\n"); len(r) == 0 || r[0] != '}' {
		stamp = append(stamp, ',')
	}
	return append(stamp, rest...), true
}

// plainRest says whether params text cannot hold a _meta key: no
// "_meta" and no backslash (an escape could spell the key).
func plainRest(b []byte) bool {
	return !bytes.Contains(b, []byte("_meta")) && bytes.IndexByte(b, '\\') < 0
}

// idText is a JSON-RPC id as JSON text; "" for none.
func idText(id jsonrpc.ID) string {
	switch v := id.Raw().(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		b, err := marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// writeObject writes a decoded object back. Its values are the decoder's
// own bytes, valid JSON already, so they are copied as they are rather than
// re-encoded; only keys are quoted again.
func writeObject(obj map[string]json.RawMessage) []byte {
	n := 2
	for k, v := range obj {
		n += len(k) + len(v) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for _, k := range slices.Sorted(maps.Keys(obj)) { // sorted: the same call, the same bytes
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendKey(b, k)
		b = append(b, ':')
		b = append(b, obj[k]...)
	}
	return append(b, '}')
}

// appendKey appends k as a JSON string: as it is when nothing in it needs
// escaping, the usual case.
func appendKey(b []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := marshal(k) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"')
}

// marshal is json.Marshal without HTML escaping: the stamped payload must
// not grow, or change, beyond the stamp itself.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// requestIDOf is the stamped id of a call, from headerRequestID when
// HTTPHandler put it there, else from params._meta; "" when the
// transport did not stamp one.
func requestIDOf(req *sdk.CallToolRequest) string {
	if req.Extra != nil {
		if v, ok := req.Extra.Header[headerRequestID]; ok && len(v) == 1 {
			return v[0]
		}
	}
	if req.Params == nil {
		return ""
	}
	id, _ := req.Params.Meta[MetaRequestID].(string)
	return id
}

// maxHTTPRequestID bounds the X-Request-Id header value a record carries.
const maxHTTPRequestID = 128

// httpRequestIDOf is the X-Request-Id header a proxy in front or the
// client set, cut to maxHTTPRequestID bytes; "" over stdio.
func httpRequestIDOf(req *sdk.CallToolRequest) string {
	if req.Extra == nil || req.Extra.Header == nil {
		return ""
	}
	v := req.Extra.Header.Get("X-Request-Id")
	if len(v) > maxHTTPRequestID {
		v = strings.ToValidUTF8(v[:maxHTTPRequestID], "")
	}
	return v
}

// sessionIDOf is the MCP session id; "" over stdio.
func sessionIDOf(req *sdk.CallToolRequest) string {
	if req.Session == nil {
		return ""
	}
	return req.Session.ID()
}
