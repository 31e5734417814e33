package proxy

import (
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

// SlowQuery is a proxied statement (a simple Query, or an extended batch
// up to Sync) that took at least its profile's slow threshold.
type SlowQuery struct {
	User     string
	Identity policy.Identity
	Kind     policy.Kind
	// SQL is the text as the client sent it. A simple-protocol text
	// carries its literals: normalize it (policy.Normalize) before it
	// goes anywhere a value must not.
	SQL string
	// ParamOIDs are the parameter types the client's Parse gave (0 or
	// missing: let the server infer them).
	ParamOIDs []uint32
	Duration  time.Duration
}

// noteSlow passes a finished statement to the OnSlow hook when it was
// slow.
func (s *session) noteSlow(e expectation, d time.Duration) {
	hook := s.srv.cfg.OnSlow
	// Only a SELECT has a plan worth showing (and one EXPLAIN can show).
	if hook == nil || e.sql == "" || e.stmtKind != policy.KindSelect {
		return
	}
	if s.slowAfter == 0 {
		p, ok := s.srv.engine.Profile(s.id.Profile)
		if !ok {
			return // the profile left in a reload: its statements are refused
		}
		// Positive: the policy fills in the default and refuses negatives.
		s.slowAfter = p.SlowThreshold
	}
	if d < s.slowAfter {
		return
	}
	hook(SlowQuery{User: s.user, Identity: s.id, Kind: e.stmtKind, SQL: e.sql, ParamOIDs: e.paramOIDs, Duration: d})
}
