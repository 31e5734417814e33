package proxy

import (
	"sync"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

// Denial is one refused statement, kept for the admin console.
type Denial struct {
	Time      time.Time
	User      string
	UserID    string
	Rule      string
	SQLState  string
	Statement string // truncated
}

const denialRingSize = 200
const denialTextMax = 200

// denialRing keeps the most recent denials.
type denialRing struct {
	mu   sync.Mutex
	buf  [denialRingSize]Denial
	next int
	n    int
}

func (r *denialRing) add(d Denial) {
	r.mu.Lock()
	r.buf[r.next] = d
	r.next = (r.next + 1) % denialRingSize
	if r.n < denialRingSize {
		r.n++
	}
	r.mu.Unlock()
}

// list returns the denials, newest first.
func (r *denialRing) list() []Denial {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Denial, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.buf[(r.next-i+denialRingSize)%denialRingSize])
	}
	return out
}

// Denials returns recent policy denials, newest first.
func (s *Server) Denials() []Denial { return s.denials.list() }

func (s *Server) noteDenial(sess *session, sql string, v policy.Verdict) {
	s.denialCount.Add(1)
	s.metrics.denial(v.Rule)
	text := sql
	if len(text) > denialTextMax {
		text = text[:denialTextMax] + "…"
	}
	s.denials.add(Denial{Time: time.Now(), User: sess.user, UserID: sess.id.UserID, Rule: v.Rule, SQLState: v.SQLState, Statement: text})
	s.log.Info("statement denied", "user", sess.user, "user_id", sess.id.UserID, "rule", v.Rule, "sqlstate", v.SQLState, "kind", string(v.Kind))
}
