package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgmoat/pgmoat/policy"
)

// backend is one server connection, opened and owned by the Pool and lent
// to one borrower at a time.
//
// Ownership: every mutable field belongs to whoever holds the backend,
// the pool while it is idle and the borrower while it is lent; the hand-
// over happens under the pool's lock, which orders one owner's writes
// before the next owner's reads. A proxy session's borrowing is the
// session goroutine's, except while a client that left is drained, when
// it is the forwarder goroutine's (session.rollbackAbandoned). Others may
// read only the immutable fields (conn for Close, pid, secret, addr,
// params, created), what the owner publishes in shown, and broken. holder
// is the pool's, under its lock.
type backend struct {
	conn net.Conn
	// rc is conn's socket, for the liveness peek (check); nil when the
	// connection has none.
	rc     syscall.RawConn
	rd     *rawReader
	wr     *bufio.Writer
	pid    uint32
	secret []byte
	addr   string // where cancel requests for this backend go
	// params are the server's ParameterStatus values at connect time.
	params map[string]string

	// applied are the session settings in force on the server (the
	// identity, the timeout and the client-visible settings).
	applied map[string]string
	// appliedKey is appliedKey(applied), kept so the pool can match
	// borrowers to backends without rebuilding it.
	appliedKey string
	// prepared holds the names of the server-side prepared statements
	// pgmoat created on this connection.
	prepared map[string]struct{}
	// stmtInfo describes the statements the Executor prepared.
	stmtInfo map[string]*stmtInfo
	// types is the Executor's codec map for this connection, made on
	// first use: a pgtype.Map caches plans and is not safe for
	// concurrent use, and a backend has one borrower at a time.
	types *pgtype.Map
	// localPrepared has bit n set when the per-transaction settings
	// statement for n settings (localStatementName(n)) is prepared.
	localPrepared uint64
	// borrowed says the backend was lent before, to lastID: another
	// identity gets it only after DISCARD ALL.
	borrowed bool
	lastID   policy.Identity
	// inForce is the user id and statement_timeout every transaction of
	// the current (or last) borrower sets for itself, for SHOW SERVERS.
	// Guarded by the pool's mutex.
	inForce [2]string
	// txStatus is the last ReadyForQuery status: 'I', 'T' or 'E'.
	txStatus byte

	// shown is what SHOW SERVERS reports of the backend, an immutable
	// copy the owner republishes (publish) whenever applied or prepared
	// change, so the admin console never reads the maps a borrower is
	// writing.
	shown atomic.Pointer[backendShown]

	created  time.Time
	released time.Time
	// epoch is the pool's epoch when the backend was opened (see Pool).
	epoch uint64
	// home is the pool of the host the backend is connected to, which
	// it goes back to; set when it is opened, immutable after.
	home *Pool
	// holder is the identity key the backend is counted for while lent
	// (Pool.held); the pool's, under its lock.
	holder string
	// broken marks a connection whose protocol state is unknown; it is
	// closed instead of being reused. A one-way latch: whoever finds the
	// connection unusable sets it (the session goroutine, the forwarder
	// draining an abandoned lending, or the cleanup giving up on it), and
	// the pool reads it at release.
	broken atomic.Bool
	// writeLimit, when set by a borrower, bounds each write to the
	// server (stallWriter); stalled records that one ran out of it.
	// writeLimit is the owner's; stalled is read by whoever reports the
	// connection's failure.
	writeLimit time.Duration
	stalled    atomic.Bool
	// fused is conn's raw socket when a batch's write may be left to the
	// read of its answer (fused.go); deferring is set while a flush
	// leaves its bytes in pending for that read.
	fused     syscall.RawConn
	deferring bool
	pending   []byte
	// written counts the bytes the socket took from us since the
	// handshake, and ackBase is the server's TCP acknowledgement count
	// then (ackKnown: plain TCP where the kernel tells it), so a lending
	// can tell whether any of its bytes reached the server's socket
	// (replay.go). The holder's, like the buffers.
	written  uint64
	ackBase  uint64
	ackKnown bool
	// fr and fusedStep (fr.step, bound once) are the state and callback
	// of the read that writes pending (fused.go).
	fr        fusedRead
	fusedStep func(uintptr) bool

	// lending moves on each time a borrower hands the backend back
	// (Pool.release), under cancelMu, which a cancel request holds while
	// it is sent: a cancel for one lending reaches the server before the
	// backend can serve the next borrower, or is not sent at all, so it
	// never cancels another borrower's statement (invariant 6). The
	// borrower reads lending while it holds the backend.
	cancelMu sync.Mutex
	lending  atomic.Uint64

	scratch []byte
}

// stallWriter is what a backend's write buffer writes through. A server
// that stops reading (it is blocked sending results its client does not
// read, while the client pipelines more) would otherwise block a write
// for ever and keep the backend, and its borrower's session, for good:
// with writeLimit set, a write that does not finish within it fails,
// and the backend is discarded.
type stallWriter struct{ b *backend }

func (w stallWriter) Write(p []byte) (int, error) {
	if w.b.deferring {
		w.b.pending = append(w.b.pending, p...)
		return len(p), nil
	}
	if err := w.b.writePending(); err != nil {
		return 0, err
	}
	return w.b.limitedWrite(p)
}

// limitedWrite writes p to the connection within the write limit.
func (b *backend) limitedWrite(p []byte) (int, error) {
	d := b.writeLimit
	if d <= 0 {
		n, err := b.conn.Write(p)
		b.written += uint64(n)
		return n, err
	}
	_ = b.conn.SetWriteDeadline(time.Now().Add(d))
	n, err := b.conn.Write(p)
	b.written += uint64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.stalled.Store(true)
	}
	return n, err
}

// unlimitWrites ends a borrower's write limit. Called by the owner
// before the backend goes back to the pool.
func (b *backend) unlimitWrites() {
	if b.writeLimit > 0 {
		b.writeLimit = 0
		_ = b.conn.SetWriteDeadline(time.Time{})
	}
}

// backendShown is a published, never modified view of a backend.
type backendShown struct {
	applied  map[string]string
	prepared int
}

// publish makes the owner's current settings and statement count what
// others see. Called by the owner after it changes applied or prepared.
func (b *backend) publish() {
	applied := make(map[string]string, len(b.applied))
	for k, v := range b.applied {
		applied[k] = v
	}
	b.shown.Store(&backendShown{applied: applied, prepared: len(b.prepared)})
}

// addPrepared records a server-side statement pgmoat created on b.
// Called by the owner.
func (b *backend) addPrepared(name string) {
	b.prepared[name] = struct{}{}
	b.publish()
}

// codecs returns the backend's pgtype.Map, made on first use. Called by
// the owner.
func (b *backend) codecs() *pgtype.Map {
	if b.types == nil {
		b.types = pgtype.NewMap()
	}
	return b.types
}

// openBackend connects with pgconn (which handles TLS and authentication),
// lets verify judge the connection (the pool's role check) and then takes
// over the raw connection.
func openBackend(ctx context.Context, cfg *pgconn.Config, maxBody int, verify func(context.Context, *pgconn.PgConn) error) (*backend, error) {
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := verify(ctx, pc); err != nil {
		pc.Close(ctx)
		return nil, err
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(ctx)
		return nil, err
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, err
	}
	addr := ""
	if ra := hj.Conn.RemoteAddr(); ra != nil && ra.Network() == "tcp" {
		addr = ra.String()
	}
	now := time.Now()
	b := &backend{
		conn:     hj.Conn,
		rc:       rawConn(hj.Conn),
		fused:    fusedConn(hj.Conn),
		pid:      hj.PID,
		secret:   hj.SecretKey,
		addr:     addr,
		params:   hj.ParameterStatuses,
		applied:  map[string]string{},
		prepared: map[string]struct{}{},
		stmtInfo: map[string]*stmtInfo{},
		txStatus: 'I',
		created:  now,
		released: now,
	}
	b.wr = bufio.NewWriterSize(stallWriter{b}, 16<<10)
	b.rd = newRawReader(backendReader{b}, maxBody)
	// The server answered all the handshake sent, so it acknowledged it.
	b.ackBase, b.ackKnown = tcpAcked(hj.Conn)
	b.publish()
	return b, nil
}

// rawConn is the socket under c (under TLS too), or nil.
func rawConn(c net.Conn) syscall.RawConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// send encodes a frontend message into the write buffer.
func (b *backend) send(msg pgproto3.FrontendMessage) error {
	wire, err := b.encode(msg)
	if err != nil {
		return err
	}
	_, err = b.wr.Write(wire)
	return err
}

// encode encodes msg into the backend's scratch buffer, valid until the
// next encode.
func (b *backend) encode(msg pgproto3.FrontendMessage) ([]byte, error) {
	var err error
	b.scratch, err = msg.Encode(b.scratch[:0])
	return b.scratch, err
}

func (b *backend) flush() error { return b.wr.Flush() }

// sendAll writes msgs and flushes them: one round trip's worth of
// pgmoat's own messages. A failed write marks b broken.
func (b *backend) sendAll(msgs ...pgproto3.FrontendMessage) error {
	for _, m := range msgs {
		if err := b.send(m); err != nil {
			b.broken.Store(true)
			return err
		}
	}
	if err := b.flush(); err != nil {
		b.broken.Store(true)
		return err
	}
	return nil
}

// untilReady reads b's answers to pgmoat's own messages up to
// ReadyForQuery and records the transaction status. Every other message
// goes to seen (nil: dropped) until an error has come; it returns the
// first ErrorResponse, as a *pgconn.PgError, or seen's first error. A
// failed read marks b broken.
func (b *backend) untilReady(seen func(typ byte, body []byte) error) error {
	var firstErr error
	for {
		typ, body, err := b.rd.next()
		if err != nil {
			b.broken.Store(true)
			return err
		}
		switch {
		case typ == 'E':
			if firstErr == nil {
				firstErr = pgError(body)
			}
		case typ == 'Z':
			b.ready(body)
			return firstErr
		case seen != nil && firstErr == nil:
			firstErr = seen(typ, body)
		}
	}
}

// ready records the transaction status a ReadyForQuery body carries.
func (b *backend) ready(body []byte) {
	if len(body) == 1 {
		b.txStatus = body[0]
	}
}

// probe is what a look at an idle backend's socket found.
type probe int

const (
	probeSilent probe = iota // open, nothing to read: fit to lend
	probeClosed              // end of stream or reset: the server went away
	probeSpoke               // bytes nobody asked for, usually a FATAL before closing
)

// errServerClosed is an idle backend whose server closed the connection.
var errServerClosed = errors.New("the server closed the connection while it was idle")

// check reports why an idle backend may not be lent (nil: it may). It
// costs one non-blocking peek at the socket, no round trip, so it runs
// before every lending: after a restart every idle connection of the
// pool is dead, and each would otherwise fail its borrower.
func (b *backend) check() error {
	if b.rd.buffered() {
		return b.unasked()
	}
	if b.rc == nil {
		return nil
	}
	switch probeIdle(b.rc) {
	case probeClosed:
		return errServerClosed
	case probeSpoke:
		return b.unasked()
	}
	return nil
}

// checkFor is check for br: a borrower that replays its first batch
// (borrower.replays) gets the check only when it costs no system call,
// for bytes the server sent unasked that are already buffered.
func (b *backend) checkFor(br borrower) error {
	if br.replays && !b.rd.buffered() {
		return nil
	}
	return b.check()
}

// unasked reads, briefly, what an idle server sent unasked, so the log
// can say why the connection is being dropped ("terminating connection
// due to administrator command").
func (b *backend) unasked() error {
	_ = b.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	typ, body, err := b.rd.next()
	if err != nil {
		return fmt.Errorf("the server sent something unasked while idle (%w)", err)
	}
	if typ == 'E' {
		return fmt.Errorf("the server said while idle: %w", pgError(body))
	}
	return fmt.Errorf("the server sent an unasked %q message while idle", typ)
}

func (b *backend) close() {
	if b.conn == nil {
		return
	}
	_ = b.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = writeRaw(b.wr, 'X', nil)
	_ = b.wr.Flush()
	_ = b.conn.Close()
}

// cancel asks the server to cancel whatever this backend is running, with
// the backend's own key, if the lending the caller read (b.lending, while
// it held the backend) is still current; after it has been handed back
// the request is not sent (errLendingOver).
var errLendingOver = errors.New("the lending the cancel request was for is over")

// endLending ends the current lending: a cancel request still being sent
// for it finishes first, and none is sent for it after.
func (b *backend) endLending() {
	b.cancelMu.Lock()
	b.lending.Add(1)
	b.cancelMu.Unlock()
}

func (b *backend) cancel(ctx context.Context, lending uint64) error {
	b.cancelMu.Lock()
	defer b.cancelMu.Unlock()
	if b.lending.Load() != lending {
		return errLendingOver
	}
	if b.addr == "" {
		return fmt.Errorf("backend %d: no TCP address to send a cancel request to", b.pid)
	}
	if err := b.sendCancel(ctx); err != nil {
		// The request may still reach the server after this lending
		// ends, and cancel whatever the backend runs then: it must not
		// serve another borrower (invariant 6). Release closes it.
		b.broken.Store(true)
		return err
	}
	return nil
}

// sendCancel sends the cancel request and waits until the server has
// read it, which it shows by closing the socket.
func (b *backend) sendCancel(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	req := pgproto3.CancelRequest{ProcessID: b.pid, SecretKey: b.secret}
	buf, err := req.Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(buf); err != nil {
		return err
	}
	var one [1]byte
	if _, err := c.Read(one[:]); !errors.Is(err, io.EOF) {
		return fmt.Errorf("cancel request for backend %d not confirmed: %w", b.pid, err)
	}
	return nil
}
