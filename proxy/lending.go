package proxy

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// The pool does not trust its record of what a backend carries: a client
// that found a way around the policy could have changed the session
// behind pgmoat's back. So every lending, to a proxy session or to the
// Executor, goes through prepareLending, and every transaction starts
// with localMessages:
//
//   - the identity, statement_timeout, search_path and read-only flag are
//     set transaction-locally at the start of each transaction, pipelined
//     ahead of the borrower's first message (a Bind and an Execute of a
//     statement prepared once per backend), so they are in force however
//     the session was left;
//   - before a backend serves an identity (user id or profile) other than
//     its last borrower's, DISCARD ALL drops everything a session can
//     keep: advisory locks, LISTEN registrations, prepared statements and
//     cursors, temporary tables, session settings (back to the startup
//     values, which make every transaction read-only); the borrower's
//     session settings are then applied again from scratch;
//   - the session-level settings (the client's TimeZone, DateStyle, ...,
//     and the identity again, so a plain SHOW sees it) are applied when
//     pgmoat's record says they differ.

// prepareLending makes a freshly acquired backend fit for id with want
// in force. On error the caller releases bk (a broken one is closed).
func (p *Pool) prepareLending(ctx context.Context, bk *backend, id policy.Identity, want settings, key string, local settings) error {
	if h := bk.home; h != nil && h != p {
		return h.prepareLending(ctx, bk, id, want, key, local) // a replica's backend
	}
	p.noteBorrower(bk, id.UserID, local)
	if p.cfg.BehindPooler {
		return nil // settings travel with each transaction instead
	}
	if bk.borrowed && bk.lastID != id {
		if err := bk.discardSession(ctx); err != nil {
			return err
		}
	}
	bk.borrowed, bk.lastID = true, id
	if bk.appliedKey != key {
		if err := bk.apply(ctx, want); err != nil {
			return err
		}
	}
	return bk.prepareLocal(ctx, len(local))
}

// noteBorrower records, for SHOW SERVERS, the identity and timeout the
// backend's transactions run with from now on: what every transaction
// sets for itself, not what pgmoat last applied to the session. Written
// under p.mu, which SHOW SERVERS holds while it reads.
func (p *Pool) noteBorrower(bk *backend, userID string, local settings) {
	timeout, _ := local.value("statement_timeout")
	p.mu.Lock()
	bk.inForce = [2]string{userID, timeout}
	p.mu.Unlock()
}

// discardSession drops everything a previous borrower's session may have
// left on the server, and pgmoat's record of it.
func (b *backend) discardSession(ctx context.Context) error {
	if err := b.ownRoundTrip(ctx, &pgproto3.Query{String: "DISCARD ALL"}); err != nil {
		b.broken.Store(true)
		return &InjectionError{Err: fmt.Errorf("DISCARD ALL: %w", err)}
	}
	b.applied = map[string]string{}
	b.appliedKey = ""
	b.prepared = map[string]struct{}{}
	b.stmtInfo = map[string]*stmtInfo{}
	b.localPrepared = 0
	b.publish()
	return nil
}

// prepareLocal prepares the per-transaction settings statement for n
// settings, once per backend and count (again after DISCARD ALL). Each
// count has its own name, so borrowers whose transactions set different
// numbers of settings (the Executor adds plan_cache_mode; a session adds
// its client's SETs) share a backend without preparing again at each
// change of borrower. Client SETs come from a closed list, so a backend
// carries a handful at most; a count past the mask's bits (never reached)
// is prepared afresh each time.
func (b *backend) prepareLocal(ctx context.Context, n int) error {
	bit := uint64(0)
	if n < 64 {
		bit = 1 << n
	}
	if b.localPrepared&bit != 0 {
		return nil
	}
	name := localStatementName(n)
	msgs := []pgproto3.FrontendMessage{&pgproto3.Parse{Name: name, Query: localSettingsSQL(n)}, &pgproto3.Sync{}}
	if bit == 0 {
		msgs = append([]pgproto3.FrontendMessage{&pgproto3.Close{ObjectType: 'S', Name: name}}, msgs...)
	}
	if err := b.ownRoundTrip(ctx, msgs...); err != nil {
		b.broken.Store(true)
		return &InjectionError{Err: fmt.Errorf("prepare the per-transaction settings: %w", err)}
	}
	b.localPrepared |= bit
	return nil
}

// ownRoundTrip sends pgmoat's own messages (ending in Sync or a Query)
// and reads the answers up to ReadyForQuery; the backend must come back
// idle.
func (b *backend) ownRoundTrip(ctx context.Context, msgs ...pgproto3.FrontendMessage) error {
	return b.ownRoundTripSeen(ctx, nil, msgs...)
}

// ownRoundTripSeen is ownRoundTrip that shows seen every answer but
// errors and the ReadyForQuery (untilReady), for the rows it wants.
func (b *backend) ownRoundTripSeen(ctx context.Context, seen func(typ byte, body []byte) error, msgs ...pgproto3.FrontendMessage) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = b.conn.SetDeadline(dl)
		defer b.conn.SetDeadline(time.Time{})
	}
	if err := b.sendAll(msgs...); err != nil {
		return err
	}
	if err := b.untilReady(seen); err != nil {
		return err
	}
	if b.txStatus != 'I' {
		return fmt.Errorf("backend left in transaction state %q", b.txStatus)
	}
	return nil
}
