package mcp

import (
	"io"
	"net/http"
	"time"
)

// bodyDeadline gives each POST body d to arrive: a connection that sends
// headers and then trickles (or never finishes) its body is cut when d
// passes, instead of holding a descriptor for ever. The deadline is the
// connection's read deadline for this request only, lifted as soon as
// the body has been read to its end, so that neither the rest of a long
// tool call nor a later request on the same connection — a GET event
// stream above all — is cut by it (a server-wide ReadTimeout could not
// tell them apart). A body that fails or is left unread keeps the
// deadline: net/http reads what is left of it after the handler, to
// reuse the connection, and that read must end too.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			next.ServeHTTP(w, r) // no connection to set it on (a test recorder)
			return
		}
		r.Body = &liftAtEOF{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// liftAtEOF calls lift once the body has been read to its end.
type liftAtEOF struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *liftAtEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}
