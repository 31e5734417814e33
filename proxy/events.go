package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// eventLog writes the records a DBA reconstructs an outage from (a lost
// backend, a failed connect, an exhausted wait, a startup timeout, a
// shutdown disconnect) at info level, at most eventBurst per kind in each
// eventWindow: an outage of a pool of a hundred should not write a
// hundred lines a second. The next record written after some were left
// out says how many ("suppressed"); the counters count them all.
type eventLog struct {
	logger *slog.Logger
	window time.Duration
	burst  int
	now    func() time.Time

	mu    sync.Mutex
	kinds map[string]*eventWindowState
}

type eventWindowState struct {
	start      time.Time
	written    int
	suppressed int
}

const (
	eventWindow = 10 * time.Second
	eventBurst  = 5
)

func newEventLog(l *slog.Logger) *eventLog {
	return &eventLog{logger: l, window: eventWindow, burst: eventBurst, now: time.Now, kinds: map[string]*eventWindowState{}}
}

// log writes one info record of kind msg unless its window's budget is
// spent.
func (e *eventLog) log(msg string, attrs ...any) { e.logAt(slog.LevelInfo, msg, attrs...) }

// logAt is log at another level.
func (e *eventLog) logAt(level slog.Level, msg string, attrs ...any) {
	if !e.logger.Enabled(context.Background(), level) {
		return
	}
	now := e.now()
	e.mu.Lock()
	st := e.kinds[msg]
	if st == nil {
		st = &eventWindowState{start: now}
		e.kinds[msg] = st
	}
	if now.Sub(st.start) >= e.window {
		st.start, st.written = now, 0
	}
	if st.written >= e.burst {
		st.suppressed++
		e.mu.Unlock()
		return
	}
	st.written++
	suppressed := st.suppressed
	st.suppressed = 0
	e.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	e.logger.Log(context.Background(), level, msg, attrs...)
}
