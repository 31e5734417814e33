package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// pooledRead is the size of the shared buffers client messages are read
// into.
const pooledRead = 8 << 10

// clientReader frames and decodes what an authenticated client sends. It
// replaces pgproto3.Backend after the startup exchange, whose reader keeps
// an 8 KiB buffer for the life of the connection: this one holds no
// buffer at all while the client is idle. It takes a buffer from the
// server's pool when bytes arrive and gives it back as soon as everything
// read has been handled.
//
// On a plain TCP or Unix socket the wait for the client's next message
// holds no buffer either: the read is made through the socket's RawConn,
// and the pooled buffer is taken only for the read system call itself
// (and given back at once when it finds nothing to read), so waiting
// costs no more system calls than a read through net.Conn. On any other
// connection (TLS) the wait reads into the 5-byte header array, and the
// rest of the message into a pooled buffer.
//
// Ownership: the session goroutine, alone.
type clientReader struct {
	r       io.Reader
	raw     syscall.RawConn // nil: wait through r
	pools   *readPools
	maxBody int

	hdr    [5]byte
	big    *[]byte // from pools.bufs, nil while nothing is buffered
	own    []byte  // a message larger than pooledRead, dropped after use
	buf    []byte  // *big or own; nil while nothing is buffered
	rp, wp int

	// rawRead is the callback of raw.Read, made once; rawN and rawErr are
	// its result.
	rawRead func(fd uintptr) bool
	rawN    int
	rawErr  error

	// msgs is taken from pools.msgs for as long as something read is
	// being handled, like big.
	msgs *frontendMessages

	// parkable says the session holds nothing while it waits for this
	// read, so the wait is published in park for the parker's scan,
	// which counts in ticks and ends a claimed wait through deadline
	// (park.go). Set by the session before each Receive.
	parkable bool
	park     parkWait
	ticks    *atomic.Int64
	deadline interface{ SetReadDeadline(time.Time) error }
}

// readPools are the server's shared input buffers (*[]byte of
// pooledRead bytes), decoded-message sets (*frontendMessages) and
// response queues (*queueBuf), each held by a session only while it has
// something in flight.
type readPools struct{ bufs, msgs, queues sync.Pool }

// queueBuf backs a session's response queue while it is not empty.
type queueBuf [8]expectation

func newReadPools() *readPools {
	p := &readPools{}
	p.bufs.New = func() any { b := make([]byte, pooledRead); return &b }
	p.msgs.New = func() any { return new(frontendMessages) }
	p.queues.New = func() any { return new(queueBuf) }
	return p
}

// frontendMessages are decoded into again and again, so that receiving
// allocates no message; a message is valid until the next receive.
type frontendMessages struct {
	query        pgproto3.Query
	parse        pgproto3.Parse
	bind         pgproto3.Bind
	describe     pgproto3.Describe
	execute      pgproto3.Execute
	close        pgproto3.Close
	sync         pgproto3.Sync
	flush        pgproto3.Flush
	terminate    pgproto3.Terminate
	functionCall pgproto3.FunctionCall
	copyData     pgproto3.CopyData
	copyDone     pgproto3.CopyDone
	copyFail     pgproto3.CopyFail
	password     pgproto3.PasswordMessage
}

func newClientReader(r io.Reader, pools *readPools, maxBody int) *clientReader {
	cr := &clientReader{r: r, pools: pools, maxBody: maxBody}
	if cr.raw = rawConnOf(r); cr.raw != nil {
		cr.rawRead = cr.readFD
	}
	return cr
}

// Receive reads and decodes the next message. Like pgproto3.Backend it
// reports a body over the limit as *pgproto3.ExceededMaxBodyLenErr before
// reading it, and an unknown type as an error.
func (cr *clientReader) Receive() (pgproto3.FrontendMessage, error) {
	if err := cr.fill(5); err != nil {
		return nil, err
	}
	typ := cr.buf[cr.rp]
	length := int(int32(binary.BigEndian.Uint32(cr.buf[cr.rp+1:])))
	if length < 4 {
		return nil, fmt.Errorf("invalid message length: %d", length)
	}
	n := length - 4
	if cr.maxBody > 0 && n > cr.maxBody {
		return nil, &pgproto3.ExceededMaxBodyLenErr{MaxExpectedBodyLen: cr.maxBody, ActualBodyLen: n}
	}
	if cr.msgs == nil {
		cr.msgs = cr.pools.msgs.Get().(*frontendMessages)
	}
	msg := cr.msgs.of(typ)
	if msg == nil {
		return nil, fmt.Errorf("unknown message type: %c", typ)
	}
	if err := cr.fill(5 + n); err != nil {
		return nil, err
	}
	body := cr.buf[cr.rp+5 : cr.rp+5+n : cr.rp+5+n]
	cr.rp += 5 + n
	if err := decodeFrontend(msg, body); err != nil {
		return nil, err
	}
	return msg, nil
}

// of is the reused message for a type byte; nil for an unknown type.
// After authentication a 'p' can only be a stray password message.
func (m *frontendMessages) of(typ byte) pgproto3.FrontendMessage {
	switch typ {
	case 'Q':
		return &m.query
	case 'P':
		return &m.parse
	case 'B':
		return &m.bind
	case 'D':
		return &m.describe
	case 'E':
		return &m.execute
	case 'C':
		return &m.close
	case 'S':
		return &m.sync
	case 'H':
		return &m.flush
	case 'X':
		return &m.terminate
	case 'F':
		return &m.functionCall
	case 'd':
		return &m.copyData
	case 'c':
		return &m.copyDone
	case 'f':
		return &m.copyFail
	case 'p':
		return &m.password
	}
	return nil
}

// fill makes sure the next n bytes are in buf[rp:], reading as much as
// the buffer takes. Once everything read has been handled, it gives the
// buffer back (and the decoded messages) before it waits for the client
// again.
func (cr *clientReader) fill(n int) error {
	if cr.wp-cr.rp >= n {
		return nil
	}
	if cr.rp == cr.wp {
		cr.rp, cr.wp = 0, 0
		cr.release()
		if cr.msgs != nil {
			// Everything decoded has been handled: the last message
			// returned is not looked at again.
			cr.pools.msgs.Put(cr.msgs)
			cr.msgs = nil
		}
		if err := cr.wait(); err != nil {
			return err
		}
	}
	if len(cr.buf)-cr.rp < n {
		cr.grow(n)
	}
	for cr.wp-cr.rp < n {
		m, err := cr.r.Read(cr.buf[cr.wp:])
		cr.wp += m
		if err != nil {
			if cr.wp-cr.rp >= n {
				return nil
			}
			if err == io.EOF && cr.wp > cr.rp {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// wait reads what the client sends next while nothing is buffered,
// holding a buffer only once something arrived: it leaves at least one
// byte in a pooled buffer, or fails.
func (cr *clientReader) wait() error {
	if cr.raw != nil {
		return cr.waitRaw()
	}
	m, err := cr.r.Read(cr.hdr[:])
	if m == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	cr.take()
	cr.wp = copy(cr.buf, cr.hdr[:m])
	return nil // a read error comes again with the next read
}

// waitRaw waits for the socket to become readable and reads it into a
// pooled buffer taken for the system call alone. A parkable wait is
// published for the parker's scan; one it claimed and that read nothing
// reports errPark.
func (cr *clientReader) waitRaw() error {
	var err error
	if cr.parkable && cr.ticks != nil {
		cr.park.since.Store(cr.ticks.Load())
		err = cr.raw.Read(cr.rawRead)
		if cr.unclaim() && err != nil {
			return errPark
		}
	} else {
		err = cr.raw.Read(cr.rawRead)
	}
	if err != nil {
		return err // a deadline or a closed connection: nothing was read
	}
	if cr.rawErr != nil {
		cr.release()
		return os.NewSyscallError("read", cr.rawErr)
	}
	if cr.rawN == 0 {
		cr.release()
		return io.EOF
	}
	cr.buf, cr.wp = *cr.big, cr.rawN
	return nil
}

// take borrows a pooled buffer while nothing is buffered.
func (cr *clientReader) take() {
	cr.big = cr.pools.bufs.Get().(*[]byte)
	cr.buf = *cr.big
}

// grow moves the unhandled bytes to the start of a buffer that holds n:
// the one in use when they fit, a pooled one, or one of their own for a
// message larger than the pooled size.
func (cr *clientReader) grow(n int) {
	pending := cr.buf[cr.rp:cr.wp]
	var next []byte
	var big *[]byte
	var own []byte
	switch {
	case n <= len(cr.buf):
		next, big, own = cr.buf, cr.big, cr.own
	case n <= pooledRead:
		big = cr.pools.bufs.Get().(*[]byte)
		next = *big
	default:
		own = make([]byte, n)
		next = own
	}
	m := copy(next, pending)
	if &next[0] != &cr.buf[0] {
		cr.release()
	}
	cr.buf, cr.big, cr.own = next, big, own
	cr.rp, cr.wp = 0, m
}

// release gives back the pooled buffer, or drops an outsized one. The
// caller has moved what it still needs.
func (cr *clientReader) release() {
	if cr.big != nil {
		cr.pools.bufs.Put(cr.big)
	}
	cr.big, cr.own, cr.buf = nil, nil, nil
}

// startupReader is what pgproto3.Backend reads through during the
// startup exchange. It never hands over bytes past the end of the
// message being read, so when the exchange ends nothing the client sent
// next sits in pgproto3's buffer: the session's clientReader takes over
// the connection exactly at a message boundary, even from a client that
// pipelines its first query behind its password.
//
// Messages before the startup packet (SSLRequest, GSSENCRequest, the
// startup packet itself) have no type byte; typed is set once the
// startup packet has been read.
type startupReader struct {
	r     io.Reader
	typed bool
	hdr   [5]byte
	nhdr  int // header bytes of the current message read so far
	left  int // body bytes of the current message not yet read
}

func (sr *startupReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if sr.left > 0 {
		n, err := sr.r.Read(p[:min(len(p), sr.left)])
		sr.left -= n
		return n, err
	}
	size := 4
	if sr.typed {
		size = 5
	}
	n, err := sr.r.Read(p[:min(len(p), size-sr.nhdr)])
	copy(sr.hdr[sr.nhdr:], p[:n])
	sr.nhdr += n
	if sr.nhdr == size {
		sr.nhdr = 0
		// A length below the header's own size is refused by pgproto3
		// once it sees the header; nothing more is read for it here.
		sr.left = max(int(int32(binary.BigEndian.Uint32(sr.hdr[size-4:size])))-4, 0)
	}
	return n, err
}
