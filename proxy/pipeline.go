package proxy

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A client may pipeline a batch of any size while it reads the answers
// concurrently (pgx's batches and pipelines, libpq's pipeline mode): the
// server answers each message as it runs it, and when its output fills
// the sockets towards its client, it waits for the client to read before
// it reads more. pgmoat sits in between and reads the backend only when
// it waits for answers, so it must never need the server to read more of
// a batch before pgmoat reads the answers owed so far: otherwise the
// server blocks writing answers pgmoat does not read, pgmoat blocks
// writing messages the server does not read, and both wait for good.
//
// So every client message is staged whole before any of it reaches the
// backend's socket (backend.stage), and commit decides what happens to
// it once the message is handled: when bytes are already in flight to
// the backend (inFlight: committed since it last owed nothing) and the
// message's bytes would take them past pipelineBound, pgmoat first sends
// a Flush and forwards every answer owed for what was sent (drainBefore),
// then sends the message. doc.go has the argument that no deadlock is
// left. A batch under the bound is untouched: one write, at the read of
// its answer (fused.go).
//
// The decision is taken between client messages, after the message's
// handler has done all it does (its queue entries, its statement names,
// its skipping), exactly as if the answers had been read after the whole
// batch: an error found in those answers drops the message's entries
// with the rest up to Sync (dropUntilSync), and the server skips the
// message when it comes, as it skips everything behind an error.

// pipelineBound bounds the bytes of a batch pgmoat sends to a backend
// that may owe answers pgmoat has not read, well under what the sockets
// between the two hold whether the server reads or not (Linux: a TCP
// socket starts at 16 KiB to send and a 64 KiB window to receive, a Unix
// socket at 208 KiB).
const pipelineBound = 16 << 10

// flushWire is a Flush message, encoded.
var flushWire, _ = (&pgproto3.Flush{}).Encode(nil)

// commit sends what the client message just handled staged for the
// backend, reading the backend's answers owed ahead of it first when the
// bytes in flight would pass pipelineBound.
func (s *session) commit(ctx context.Context) {
	n, entries, flush := s.staged, s.stagedEntries, s.wantFlush
	s.staged, s.stagedEntries, s.wantFlush = 0, 0, false
	bk := s.bk
	if bk == nil || (n == 0 && !flush) {
		return
	}
	if s.inFlight > 0 && s.inFlight+n > pipelineBound {
		s.drainBefore(ctx, bk, n, entries)
		if bk = s.bk; bk == nil {
			return // lost while draining; the client has been told
		}
	}
	s.inFlight += n
	if flush {
		s.flushBackend()
		return
	}
	if bk.fused == nil && len(bk.pending) > 0 {
		// Without a raw socket no read writes pending: what the write
		// buffer spilled goes now.
		if err := bk.writePending(); err != nil {
			s.sendFailed(bk, err)
		}
	}
}

// drainBefore sends bk everything staged before the last n bytes (the
// client message being committed, whose queue entries are the last
// entries of the queue) and a Flush, forwards every answer owed for them,
// and stages the n bytes again, on whichever backend the lending holds
// then (a replay may have moved it, replay.go).
func (s *session) drainBefore(ctx context.Context, bk *backend, n, entries int) {
	bk.deferring = true
	err := bk.wr.Flush() // everything staged is now in pending, in order
	bk.deferring = false
	if err != nil {
		s.sendFailed(bk, err)
	}
	cut := len(bk.pending) - n
	if cut < 0 {
		cut = 0 // a failed buffer lost them; the read reports it
	}
	s.work.held = append(s.work.held[:0], bk.pending[cut:]...)
	bk.pending = bk.pending[:cut]
	s.work.replay.unnote(n) // kept in the order they go out: after the Flush
	s.restage(bk, flushWire)
	s.flushBackend()
	s.pumpUntil(ctx, entries)
	if next := s.bk; next != nil {
		s.restage(next, s.work.held)
	}
	if cap(s.work.held) > pendingKeep {
		s.work.held = nil
	} else {
		s.work.held = s.work.held[:0]
	}
}
