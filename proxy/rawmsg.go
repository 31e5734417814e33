package proxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// keptBody is the largest message body a rawReader reads into its reused
// buffer. Bigger bodies of types pgmoat forwards without looking inside
// are streamed (see nextSmall); bigger ones it has to decode get a buffer
// of their own that is dropped after use, so a backend that once sent a
// big message does not hold its size for the rest of its life.
const keptBody = 64 << 10

// rawReader reads backend messages as type byte + body without decoding
// them, so rows can be forwarded as they came.
//
// Ownership: the backend's holder (see backend).
type rawReader struct {
	r *bufio.Reader
	// maxDecoded bounds the messages pgmoat must read whole to decode
	// (errors, command tags, parameter status, ...); row data and the
	// other streamed types have no ceiling but the protocol's.
	maxDecoded int
	body       []byte // reused between messages, at most keptBody
}

func newRawReader(r io.Reader, maxDecoded int) *rawReader {
	return &rawReader{r: bufio.NewReaderSize(r, 32<<10), maxDecoded: maxDecoded}
}

// streamable reports the message types pgmoat passes through without
// decoding: rows, notices and notifications. They are the only ones
// that carry values of any size, and they are never read whole when
// large.
func streamable(typ byte) bool {
	return typ == 'D' || typ == 'N' || typ == 'A'
}

// header reads a message's type and body length. It peeks at the read
// buffer rather than copying into an array, which would escape to the
// heap: one allocation per message on the hot path.
func (rr *rawReader) header() (typ byte, n int, err error) {
	hdr, err := rr.r.Peek(5)
	if err != nil {
		if len(hdr) > 0 {
			err = noEOF(err)
		}
		return 0, 0, err
	}
	typ = hdr[0]
	n = int(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	_, _ = rr.r.Discard(5)
	if n < 0 || (n > rr.maxDecoded && !streamable(typ) && typ != 'E') {
		return 0, 0, fmt.Errorf("backend sent a message of type %q with invalid length %d", typ, n+4)
	}
	return typ, n, nil
}

// next returns the next message whole. The body is valid until the next
// call.
func (rr *rawReader) next() (typ byte, body []byte, err error) {
	typ, n, err := rr.header()
	if err != nil {
		return 0, nil, err
	}
	body, err = rr.readBody(typ, n)
	return typ, body, err
}

// nextSmall returns the next message, except that a streamable one
// larger than keptBody is left unread: body is nil and big is its body
// length, which the caller consumes with copyBody, discard or a
// bodyReader before the next call.
func (rr *rawReader) nextSmall() (typ byte, body []byte, big int, err error) {
	typ, n, err := rr.header()
	if err != nil {
		return 0, nil, 0, err
	}
	if n > keptBody && streamable(typ) {
		return typ, nil, n, nil
	}
	body, err = rr.readBody(typ, n)
	return typ, body, 0, err
}

// readBody reads n body bytes: into the reused buffer when they fit it,
// into one of their own otherwise. An ErrorResponse too large for the
// reused buffer is cut to fit it (cutError).
func (rr *rawReader) readBody(typ byte, n int) ([]byte, error) {
	if typ == 'E' && n > keptBody {
		return rr.cutError(n)
	}
	var body []byte
	if n <= keptBody {
		if cap(rr.body) < n {
			rr.body = make([]byte, n, max(n, 4<<10))
		}
		body = rr.body[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(rr.r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// ErrorResponse cut: each field keeps at most errorFieldMax bytes and
// the whole body at most keptBody, the rest of a field replaced by a
// note of how much was cut.
const errorFieldMax = 16 << 10

// cutError reads an ErrorResponse body of n bytes field by field,
// keeping a well-formed ErrorResponse of at most keptBody bytes: the
// SQLSTATE and the other short fields whole, a huge message (a value
// quoted in "invalid input syntax", a RAISE of a large text) cut at a
// character boundary and marked. PostgreSQL puts no bound on an error's
// size; pgmoat reads the rest and drops it, so neither its memory nor
// the client's follows it and the connection stays usable.
func (rr *rawReader) cutError(n int) ([]byte, error) {
	if cap(rr.body) < keptBody {
		rr.body = make([]byte, 0, keptBody)
	}
	out := rr.body[:0]
	const reserve = 64 // the cut note and the final NUL
	left := n
	for {
		if left < 1 {
			return nil, errMalformedError
		}
		field, err := rr.r.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		left--
		if field == 0 {
			if left != 0 {
				return nil, errMalformedError
			}
			return append(out, 0), nil
		}
		room := max(0, min(errorFieldMax, keptBody-len(out)-2-reserve))
		value, total, err := rr.cstring(room, &left)
		if err != nil {
			return nil, err
		}
		if room == 0 {
			continue // the budget is spent: later fields are dropped
		}
		out = append(out, field)
		out = append(out, value...)
		if cut := total - len(value); cut > 0 {
			out = fmt.Appendf(out, " ... [%d more bytes cut by pgmoat]", cut)
		}
		out = append(out, 0)
	}
}

var errMalformedError = fmt.Errorf("backend sent a malformed ErrorResponse")

// cstring reads one NUL-terminated field value of the message, of which
// *left bytes remain, keeping at most keep bytes (cut back to a UTF-8
// character boundary). It returns what it kept and the value's full
// length. The kept bytes alias the read buffer only until the next
// read, so they are copied out first.
func (rr *rawReader) cstring(keep int, left *int) (kept []byte, total int, err error) {
	var buf []byte
	for {
		chunk, err := rr.r.ReadSlice(0)
		if len(chunk) > *left {
			return nil, 0, errMalformedError
		}
		*left -= len(chunk)
		end := len(chunk)
		if err == nil {
			end-- // the NUL
		} else if err != bufio.ErrBufferFull {
			return nil, 0, noEOF(err)
		}
		if take := min(end, keep-len(buf)); take > 0 {
			buf = append(buf, chunk[:take]...)
		}
		total += end
		if err == nil {
			break
		}
	}
	if total > len(buf) {
		for len(buf) > 0 && buf[len(buf)-1]&0xc0 == 0x80 {
			buf = buf[:len(buf)-1] // inside a multi-byte character
		}
		if len(buf) > 0 && buf[len(buf)-1] >= 0xc0 {
			buf = buf[:len(buf)-1] // the lead byte of a cut character
		}
	}
	return buf, total, nil
}

// copyBody passes the next n bytes through to w in pieces of the read
// buffer's size. It reads all n even when w fails, so the backend stays
// in step; the first write error is returned as werr, a read error as
// rerr (the message is then cut short and the connection unusable).
func (rr *rawReader) copyBody(w io.Writer, n int) (werr, rerr error) {
	for n > 0 {
		if rr.r.Buffered() == 0 {
			if _, err := rr.r.Peek(1); err != nil {
				return werr, noEOF(err)
			}
		}
		chunk, _ := rr.r.Peek(min(n, rr.r.Buffered()))
		if werr == nil {
			_, werr = w.Write(chunk)
		}
		_, _ = rr.r.Discard(len(chunk))
		n -= len(chunk)
	}
	return werr, nil
}

// discard skips the next n bytes.
func (rr *rawReader) discard(n int) error {
	_, err := rr.r.Discard(n)
	return noEOF(err)
}

// readFull reads exactly len(p) bytes of a streamed body.
func (rr *rawReader) readFull(p []byte) error {
	_, err := io.ReadFull(rr.r, p)
	return noEOF(err)
}

// noEOF turns an end of input inside a message into the error it is.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// buffered reports whether more input is already in memory; when it is
// not, a writer should flush before the next read may block.
func (rr *rawReader) buffered() bool { return rr.r.Buffered() > 0 }

// writeHeader appends a message header announcing a body of n bytes. It
// builds the header in the writer's free space (an array would escape to
// the heap through Write, one allocation per message).
func writeHeader(w *bufio.Writer, typ byte, n int) error {
	if w.Available() < 5 {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	hdr := append(w.AvailableBuffer(), typ)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(n+4))
	_, err := w.Write(hdr)
	return err
}

// writeRaw appends one message in wire form to w.
func writeRaw(w *bufio.Writer, typ byte, body []byte) error {
	if err := writeHeader(w, typ, len(body)); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}
