package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Why splicing. Whatever a result's MarshalJSON returns, encoding/json
// re-scans it (to validate and compact it) as the SDK builds the JSON-RPC
// response, and again as the transport encodes the message: two passes
// over every byte of a page, half the CPU of a call. So on the transports
// pgmoat sets up itself (Run's stdio stream, HTTPHandler's responses) a
// tools/call result the server encoded leaves the SDK as a short
// placeholder, and the writer under the SDK puts the bytes in its place as
// the message goes out. Any other transport (Server.SDK used directly)
// gets the same bytes through the SDK's own encoding.
//
// A placeholder is a JSON object whose one key is placeholderKey and whose
// value is a token: a random prefix per server and a counter. It can only
// appear unescaped in the output as the SDK's own JSON structure, never
// inside a string a caller influences (quotes in strings are escaped), and
// a token is used once.

const placeholderKey = "pgmoat/spliced"

var placeholderOpen = []byte(`{"` + placeholderKey + `":"`)

// tokenLen is the length of a token: 16 hex digits of prefix, 16 of
// counter.
const tokenLen = 32

// spliceTTL bounds how long an entry waits for its writer: the writer
// runs right after the marshal, unless the client went away and the
// message was dropped, which is what the sweep cleans up.
const spliceTTL = time.Minute

// spliceTable holds the encoded results waiting for their writer.
type spliceTable struct {
	prefix string

	mu      sync.Mutex
	next    uint64
	entries map[string]spliceEntry
	swept   time.Time
}

type spliceEntry struct {
	raw     []byte
	expires time.Time
}

func newSpliceTable() *spliceTable {
	var p [8]byte
	_, _ = rand.Read(p[:])
	return &spliceTable{prefix: hex.EncodeToString(p[:]), entries: map[string]spliceEntry{}}
}

// placeholder stores raw and returns the JSON that stands for it.
func (t *spliceTable) placeholder(raw []byte) []byte {
	now := time.Now()
	b := make([]byte, 0, len(placeholderOpen)+tokenLen+2)
	b = append(b, placeholderOpen...)
	b = append(b, t.prefix...)
	t.mu.Lock()
	t.next++
	n := t.next
	if len(t.entries) > 256 && now.Sub(t.swept) > spliceTTL/4 {
		t.sweep(now)
	}
	start := len(b)
	b = appendHex16(b, n)
	t.entries[string(b[start-len(t.prefix):])] = spliceEntry{raw: raw, expires: now.Add(spliceTTL)}
	t.mu.Unlock()
	return append(b, '"', '}')
}

func appendHex16(b []byte, n uint64) []byte {
	var d [16]byte
	s := strconv.AppendUint(d[:0], n, 16)
	for range 16 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (t *spliceTable) sweep(now time.Time) {
	t.swept = now
	for k, e := range t.entries {
		if now.After(e.expires) {
			delete(t.entries, k)
		}
	}
}

// take removes and returns the bytes of token.
func (t *spliceTable) take(token []byte) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[string(token)]
	if ok {
		delete(t.entries, string(token))
	}
	return e.raw, ok
}

// splice returns p with every placeholder of this table replaced by its
// bytes, appended to out, and false when p holds none (p is then to be
// written as is).
func (t *spliceTable) splice(out, p []byte) ([]byte, bool) {
	i := bytes.Index(p, placeholderOpen)
	if i < 0 {
		return nil, false
	}
	for i >= 0 {
		tok := i + len(placeholderOpen)
		end := tok + tokenLen
		if end+2 > len(p) || p[end] != '"' || p[end+1] != '}' || !bytes.HasPrefix(p[tok:], []byte(t.prefix)) {
			// Not one of ours: leave it.
			out = append(out, p[:tok]...)
			p = p[tok:]
			i = bytes.Index(p, placeholderOpen)
			continue
		}
		raw, ok := t.take(p[tok:end])
		if !ok {
			out = append(out, p[:end+2]...)
		} else {
			out = append(out, p[:i]...)
			out = append(out, raw...)
		}
		p = p[end+2:]
		i = bytes.Index(p, placeholderOpen)
	}
	return append(out, p...), true
}

// spliceKey marks the contexts of sessions whose writer splices.
type spliceKey struct{}

func withSplicing(ctx context.Context, t *spliceTable) context.Context {
	return context.WithValue(ctx, spliceKey{}, t)
}

func splicingOf(ctx context.Context) *spliceTable {
	t, _ := ctx.Value(spliceKey{}).(*spliceTable)
	return t
}

// splicingWriter splices each message written to a stream transport;
// the SDK writes one message per Write.
type splicingWriter struct {
	io.WriteCloser
	t *spliceTable
}

func (w splicingWriter) Write(p []byte) (int, error) {
	return spliceWrite(w.WriteCloser, w.t, p)
}

// spliceBuffers are reused for the spliced messages: a writer is done
// with its bytes when Write returns.
var spliceBuffers = sync.Pool{New: func() any { return new([]byte) }}

func spliceWrite(w io.Writer, t *spliceTable, p []byte) (int, error) {
	if !bytes.Contains(p, placeholderOpen) {
		return w.Write(p)
	}
	buf := spliceBuffers.Get().(*[]byte)
	out, _ := t.splice((*buf)[:0], p)
	_, err := w.Write(out)
	if cap(out) <= 1<<20 {
		*buf = out
		spliceBuffers.Put(buf)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// splicingResponse splices each message the SDK writes to an HTTP
// response (one JSON body, or one server-sent event per Write).
//
// A JSON body is held until the handler is done and then written at
// once with its Content-Length: net/http would otherwise send the body
// chunked, the chunk header, the data and the closing chunk in separate
// writes to the connection, and the client would read the chunks apart.
// The SDK writes a JSON body in one Write when its last response is
// ready, so holding it delays nothing. An event stream, a body after an
// explicit WriteHeader (its headers are fixed by then) and any body
// that is flushed go out as they are written. Owned by the request's
// handler goroutine.
type splicingResponse struct {
	http.ResponseWriter
	t *spliceTable
	// held is the JSON body waiting for finish; nil when nothing is held.
	held *[]byte
	// decided is set once the first Write or WriteHeader chose whether
	// to hold the body.
	decided bool
}

func (w *splicingResponse) WriteHeader(code int) {
	w.decided = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *splicingResponse) Write(p []byte) (int, error) {
	if !w.decided {
		w.decided = true
		if w.holdsBody() {
			w.held = spliceBuffers.Get().(*[]byte)
			*w.held = (*w.held)[:0]
		}
	}
	if w.held == nil {
		return spliceWrite(w.ResponseWriter, w.t, p)
	}
	if out, ok := w.t.splice(*w.held, p); ok {
		*w.held = out
	} else {
		*w.held = append(*w.held, p...)
	}
	return len(p), nil
}

// holdsBody says whether the body about to be written is a JSON body
// whose length can be sent first.
func (w *splicingResponse) holdsBody() bool {
	h := w.Header()
	ct := h.Get("Content-Type")
	return (ct == "application/json" || strings.HasPrefix(ct, "application/json;")) &&
		h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == ""
}

// release writes what is held, with its Content-Length when withLength.
func (w *splicingResponse) release(withLength bool) error {
	if w.held == nil {
		return nil
	}
	buf := w.held
	w.held = nil
	if withLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	}
	_, err := w.ResponseWriter.Write(*buf)
	if cap(*buf) <= 1<<20 {
		spliceBuffers.Put(buf)
	}
	return err
}

// finish sends the held body, once the handler has returned.
func (w *splicingResponse) finish() { _ = w.release(true) }

// Unwrap lets http.ResponseController flush and set deadlines.
func (w *splicingResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes on for the SDK's event streams; a held body goes
// out first, chunked.
func (w *splicingResponse) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *splicingResponse) FlushError() error {
	w.decided = true
	if err := w.release(false); err != nil {
		return err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// splicingHTTP makes next's sessions splice into their responses.
func splicingHTTP(next http.Handler, t *spliceTable) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &splicingResponse{ResponseWriter: w, t: t}
		next.ServeHTTP(sw, r.WithContext(withSplicing(r.Context(), t)))
		sw.finish()
	})
}
