package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The transports below put each tools/call's JSON-RPC id where the tool
// handler can read it (see MetaRequestID). Server.Run and
// Server.HTTPHandler apply them, so every session pgmoat serves is
// stamped.

// StampRequestIDsHTTP reads each POST body of at most maxBytes (a larger
// one gets 413, as from the SDK) and hands next the body stamped by
// StampRequestIDs. It owns the body-size cap: next must not apply a
// smaller one, since a stamp makes a body a little longer.
func StampRequestIDsHTTP(next http.Handler, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readPOSTBody(w, r, maxBytes)
		if !ok {
			return
		}
		if body != nil {
			setBody(r, StampRequestIDs(body))
		}
		next.ServeHTTP(w, r)
	})
}

// headerRequestID is the request header under which HTTPHandler hands a
// plain tools/call's id to the tool handler (the SDK passes a request's
// headers on in RequestExtra), instead of stamping the body: the body
// then reaches the SDK as the client sent it, and the SDK, which
// decodes params._meta three times per call, finds none of pgmoat's in
// it. A '/' cannot appear in a header name on the wire, so no client
// can send this one; it is removed from every POST all the same.
const headerRequestID = "pgmoat/request-id"

// stampRequestIDsHeader is StampRequestIDsHTTP for HTTPHandler: a POST
// body that is one plain tools/call (stampPlainMessage's kind) passes
// unchanged, its id in headerRequestID; any other body is stamped.
func stampRequestIDsHeader(next http.Handler, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readPOSTBody(w, r, maxBytes)
		if !ok {
			return
		}
		if body == nil {
			next.ServeHTTP(w, r)
			return
		}
		delete(r.Header, headerRequestID)
		if id, plain := plainCallID(body); plain {
			r.Header[headerRequestID] = []string{id}
		} else {
			body = StampRequestIDs(body)
		}
		setBody(r, body)
		next.ServeHTTP(w, r)
	})
}

// readPOSTBody reads a POST's body of at most maxBytes, answering the
// request itself (ok false) when it cannot; body is nil for a request
// that is not a POST with a body, which goes on as it is.
func readPOSTBody(w http.ResponseWriter, r *http.Request, maxBytes int64) (body []byte, ok bool) {
	if r.Method != http.MethodPost || r.Body == nil {
		return nil, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err == nil {
		if body == nil {
			body = []byte{}
		}
		return body, true
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		http.Error(w, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		http.Error(w, "the request body did not arrive in time", http.StatusRequestTimeout)
		return nil, false
	}
	http.Error(w, "failed to read body", http.StatusBadRequest)
	return nil, false
}

func setBody(r *http.Request, body []byte) {
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
}

// StampRequestIDsTransport wraps t so that every tools/call read from it
// is stamped. An *sdk.IOTransport (stdio) is stamped below the SDK, on its
// byte stream, which keeps the SDK's own connection and its handling of
// the negotiated protocol version intact; any other transport is stamped
// as its connection hands messages up.
func StampRequestIDsTransport(t sdk.Transport) sdk.Transport {
	return stampAndSplice(t, nil)
}

// stampAndSplice is StampRequestIDsTransport whose connections also
// splice the results encoded for table (nil: none).
func stampAndSplice(t sdk.Transport, table *spliceTable) sdk.Transport {
	if it, ok := t.(*sdk.IOTransport); ok {
		limit := it.MaxLineLength
		if limit == 0 {
			limit = sdk.DefaultMaxLineLength
		}
		// The stamping reader holds the client's frames to the limit; the
		// SDK must not hold the stamped copy, a few bytes longer, to it too.
		w := it.Writer
		if table != nil {
			w = splicingWriter{WriteCloser: w, t: table}
		}
		return &sdk.IOTransport{Reader: newStampingReader(it.Reader, limit), Writer: w, MaxLineLength: -1}
	}
	return stampingTransport{Transport: t, splice: table}
}

// stampingReader re-frames a stream of JSON values, one per line, with
// every tools/call stamped.
type stampingReader struct {
	src     io.ReadCloser
	limit   *frameLimit
	dec     *json.Decoder
	pending []byte
}

func newStampingReader(src io.ReadCloser, limit int) *stampingReader {
	l := &frameLimit{r: src, limit: limit}
	return &stampingReader{src: src, limit: l, dec: json.NewDecoder(l)}
}

func (s *stampingReader) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		var raw json.RawMessage
		if err := s.dec.Decode(&raw); err != nil {
			return 0, err
		}
		// As the SDK does: a value must end its line.
		var next [1]byte
		if n, _ := s.dec.Buffered().Read(next[:]); n > 0 && next[0] != '\n' && next[0] != '\r' {
			return 0, errors.New("mcp: invalid trailing data after a JSON-RPC message")
		}
		s.limit.reset()
		s.pending = append(StampRequestIDs(raw), '\n')
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *stampingReader) Close() error { return s.src.Close() }

// errFrameTooLarge: one JSON value on the stream exceeded the line limit.
var errFrameTooLarge = errors.New("mcp: a JSON-RPC message exceeds the maximum line length")

// frameLimit bounds what the decoder may buffer for one value, as the
// SDK's reader does; a negative limit means none.
type frameLimit struct {
	r            io.Reader
	limit, count int
}

func (f *frameLimit) Read(p []byte) (int, error) {
	if f.limit < 0 {
		return f.r.Read(p)
	}
	if f.count >= f.limit {
		return 0, errFrameTooLarge
	}
	p = p[:min(len(p), f.limit-f.count)]
	n, err := f.r.Read(p)
	f.count += n
	return n, err
}

func (f *frameLimit) reset() { f.count = 0 }

// stampingTransport stamps the requests its connection reads and, with
// a table, splices the results it writes.
type stampingTransport struct {
	sdk.Transport
	splice *spliceTable
}

func (t stampingTransport) Connect(ctx context.Context) (sdk.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return stampingConn{Connection: c, splice: t.splice}, nil
}

// SupportsProtocolVersion passes the wrapped transport's answer on.
func (t stampingTransport) SupportsProtocolVersion(v string) bool {
	if p, ok := t.Transport.(sdk.ProtocolVersionSupporter); ok {
		return p.SupportsProtocolVersion(v)
	}
	return true
}

type stampingConn struct {
	sdk.Connection
	splice *spliceTable
}

// Write puts a spliced result's bytes into its response; the transport
// below then encodes the message once.
func (c stampingConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if resp, ok := msg.(*jsonrpc.Response); ok && c.splice != nil && len(resp.Result) > 0 {
		if out, ok := c.splice.splice(nil, resp.Result); ok {
			r := *resp
			r.Result = out
			msg = &r
		}
	}
	return c.Connection.Write(ctx, msg)
}

func (c stampingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if req, ok := msg.(*jsonrpc.Request); ok && req.Method == methodCallTool {
		if p, ok := stampParams(req.Params, idText(req.ID)); ok {
			req.Params = p
		}
	}
	return msg, err
}
