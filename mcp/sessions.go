package mcp

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// sessionIDHeader carries the MCP session id over streamable HTTP.
const sessionIDHeader = "Mcp-Session-Id"

// sessionCap refuses a caller a new HTTP session while it holds max of
// them. A caller is what a token maps to (the SDK's TokenInfo.UserID:
// user id and profile), so tokens and JWTs of one identity share the
// cap; a session counts from its initialize until the SDK closes it
// (DELETE, or SessionTimeout without a request). Abandoned sessions cost
// goroutines and memory until they expire: the cap bounds what one caller
// can leave behind.
type sessionCap struct {
	sdk *sdk.Server
	max int

	mu sync.Mutex
	// owners maps the id of each session created over HTTP to its
	// caller; ids of closed sessions are pruned before every count.
	owners map[string]string
	// opening counts initializes in flight per caller, so that parallel
	// ones cannot overshoot the cap together.
	opening map[string]int
}

func newSessionCap(s *sdk.Server, max int) *sessionCap {
	return &sessionCap{sdk: s, max: max, owners: map[string]string{}, opening: map[string]int{}}
}

// Handler counts the sessions next creates: a POST without a session id
// is an initialize, and the session id of its answer is the new session.
func (c *sessionCap) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get(sessionIDHeader) != "" {
			next.ServeHTTP(w, r)
			return
		}
		caller := ""
		if ti := auth.TokenInfoFromContext(r.Context()); ti != nil {
			caller = ti.UserID
		}
		if held, ok := c.open(caller); !ok {
			http.Error(w, fmt.Sprintf("pgmoat: mcp.max_sessions_per_token: this caller holds %d sessions, the limit; "+
				"end one (DELETE %s with its %s) or wait for idle ones to expire (mcp.session_idle_timeout)",
				held, Path, sessionIDHeader), http.StatusTooManyRequests)
			return
		}
		defer func() { c.opened(caller, w.Header().Get(sessionIDHeader)) }()
		next.ServeHTTP(w, r)
	})
}

// open reserves a session for caller, or says how many it holds.
func (c *sessionCap) open(caller string) (held int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune()
	for _, owner := range c.owners {
		if owner == caller {
			held++
		}
	}
	held += c.opening[caller]
	if held >= c.max {
		return held, false
	}
	c.opening[caller]++
	return held, true
}

// opened ends a reservation; id is the session created, if any.
func (c *sessionCap) opened(caller, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opening[caller]--; c.opening[caller] <= 0 {
		delete(c.opening, caller)
	}
	if id != "" {
		c.owners[id] = caller
	}
}

// prune forgets the sessions the SDK has closed. It walks every live
// session, once per initialize: a few microseconds per thousand.
func (c *sessionCap) prune() {
	if len(c.owners) == 0 {
		return
	}
	live := make(map[string]bool, len(c.owners))
	for ss := range c.sdk.Sessions() {
		live[ss.ID()] = true
	}
	for id := range c.owners {
		if !live[id] {
			delete(c.owners, id)
		}
	}
}
