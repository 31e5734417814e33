package mcp

import (
	"net/http"
	"time"
)

// writeDeadline bounds each write of a POST response to d: a client that
// sends a request and stops reading the answer has its connection cut
// when a write has waited d for it, instead of holding the handler's
// goroutine and the response in memory for ever. The deadline is set
// afresh before every write and flush, so a tool call that runs long
// before it answers, or an event stream on a POST that writes now and
// then, is not cut by it; only a write that stalls is. GET event
// streams are left alone; net/http lifts the deadline once a response is
// done, so the next request on the connection starts without it.
func writeDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		if dw.extend() != nil {
			next.ServeHTTP(w, r) // no connection to set it on (a test recorder)
			return
		}
		next.ServeHTTP(dw, r)
		dw.extend() // for what net/http writes after the handler
	})
}

// deadlineWriter moves the connection's write deadline d ahead before
// each write. Owned by the request's handler goroutine.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) extend() error { return w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *deadlineWriter) WriteHeader(code int) {
	_ = w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	_ = w.extend()
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush calls.
func (w *deadlineWriter) FlushError() error {
	_ = w.extend()
	return w.rc.Flush()
}

// Flush serves callers that assert http.Flusher.
func (w *deadlineWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the real writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
