package proxy

import (
	"io"
	"net"
	"syscall"
)

// A batch sent to a backend is always followed by a read of its answer,
// which the server has not sent yet: a read through the Go poller right
// after the write finds nothing (a read system call that returns EAGAIN),
// parks, and reads again once the poller saw the answer arrive. The
// session's flush of a batch that ends in Sync, Query or Flush is
// therefore deferred to that read (flushToRead): the read writes the
// batch itself, from inside the socket's RawConn.Read, and waits for
// readability before its first read system call, so a batch costs one
// write and one read. Waiting without reading first is sound only
// because the write happens inside the same RawConn.Read, after the
// poller forgot earlier readiness: the answer can only arrive after the
// write, and its arrival wakes the wait. (Bytes the server sent earlier,
// unasked, are read too: the answer that follows them, or the reset a
// dead server answers the write with, wakes the wait.) It also needs
// every answer owed for bytes written before to have been read: answers
// already in the socket, from a server blocked sending more, would wake
// nothing. The session writes nothing before the read (its messages are
// staged, stage) and reads everything owed before more of a batch goes
// out (pipeline.go).
//
// Ownership: deferring and pending are the backend's holder's, like the
// buffers they sit between.

// fusedConn is the raw socket of a backend reached over plain TCP or a
// Unix socket, nil otherwise (TLS writes must go through its Conn).
func fusedConn(c net.Conn) syscall.RawConn {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return rawConnOf(c)
	}
	return nil
}

// backendReader is what a backend's read buffer fills from.
type backendReader struct{ b *backend }

func (r backendReader) Read(p []byte) (int, error) {
	b := r.b
	if len(b.pending) == 0 {
		return b.conn.Read(p)
	}
	return b.writeThenRead(p)
}

// flushToRead flushes the write buffer into pending, to be written by
// the next read; without a raw socket it flushes as flush does.
func (b *backend) flushToRead() error {
	if b.fused == nil {
		return b.flush()
	}
	b.deferring = true
	err := b.wr.Flush()
	b.deferring = false
	return err
}

// writeAll writes everything buffered and pending to the socket now,
// pending first.
func (b *backend) writeAll() error {
	if err := b.wr.Flush(); err != nil {
		return err
	}
	return b.writePending()
}

// stage puts wire in the write buffer without writing to the socket: a
// full buffer spills into pending, for the next read (or, without a raw
// socket, the session's commit) to write. The session stages each client
// message whole before it decides whether the answers owed ahead of it
// must be read first (pipeline.go).
func (b *backend) stage(wire []byte) error {
	b.deferring = true
	_, err := b.wr.Write(wire)
	b.deferring = false
	return err
}

// pendingKeep is the largest pending buffer a backend keeps for reuse: a
// large message staged once does not stay in memory with the backend.
const pendingKeep = 64 << 10

// dropPending empties pending, keeping its array only when small.
func (b *backend) dropPending() {
	if cap(b.pending) > pendingKeep {
		b.pending = nil
		return
	}
	b.pending = b.pending[:0]
}

// writePending writes what a deferred flush left, through the write
// limit, before anything written after it.
func (b *backend) writePending() error {
	if len(b.pending) == 0 {
		return nil
	}
	p := b.pending
	b.pending = b.pending[:0]
	_, err := b.limitedWrite(p)
	if cap(p) > pendingKeep {
		b.pending = nil
	}
	return err
}

// fusedRead is the state of one writeThenRead, kept in the backend so
// that its RawConn.Read callback (step, bound once per backend) allocates
// nothing per batch.
type fusedRead struct {
	pending, p []byte
	wrote, n   int
	rerr, werr error
	written    bool
}

// step is the RawConn.Read callback: it writes pending the first time,
// then reads into p once the answer is there.
func (f *fusedRead) step(fd uintptr) bool {
	if !f.written {
		f.written = true
		for f.wrote < len(f.pending) {
			m, e := syscall.Write(int(fd), f.pending[f.wrote:])
			if e == syscall.EINTR {
				continue
			}
			if e != nil {
				if e != syscall.EAGAIN {
					f.werr = e
				}
				return true
			}
			f.wrote += m
		}
		return false // the answer is not there yet: wait for it
	}
	for {
		m, e := syscall.Read(int(fd), f.p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		f.n, f.rerr = max(m, 0), e
		return true
	}
}

// writeThenRead writes pending and reads into p once the answer is
// there. A write the socket does not take whole at once falls back to
// a write through the write limit and a plain read.
func (b *backend) writeThenRead(p []byte) (int, error) {
	if b.fusedStep == nil {
		b.fusedStep = b.fr.step
	}
	f := &b.fr
	*f = fusedRead{pending: b.pending, p: p}
	err := b.fused.Read(b.fusedStep)
	pending, wrote, n, rerr, werr := f.pending, f.wrote, f.n, f.rerr, f.werr
	*f = fusedRead{}
	b.written += uint64(wrote)
	if werr != nil {
		b.dropPending()
		return 0, werr
	}
	if wrote < len(pending) {
		b.pending = append(b.pending[:0], pending[wrote:]...)
		if err := b.writePending(); err != nil {
			return 0, err
		}
		return b.conn.Read(p)
	}
	b.dropPending()
	if err != nil {
		return 0, err // a closed connection or a deadline
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
