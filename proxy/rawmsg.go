package proxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// rawReader reads backend messages as type byte + body without decoding
// them, so rows can be forwarded as they came.
type rawReader struct {
	r       *bufio.Reader
	maxBody int
	body    []byte // reused between messages
}

func newRawReader(r io.Reader, maxBody int) *rawReader {
	return &rawReader{r: bufio.NewReaderSize(r, 32<<10), maxBody: maxBody}
}

// next returns the next message. The body is valid until the next call.
func (rr *rawReader) next() (typ byte, body []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	if n < 0 || n > rr.maxBody {
		return 0, nil, fmt.Errorf("backend sent a message of type %q with invalid length %d", hdr[0], n+4)
	}
	if cap(rr.body) < n {
		rr.body = make([]byte, n)
	}
	rr.body = rr.body[:n]
	if _, err := io.ReadFull(rr.r, rr.body); err != nil {
		return 0, nil, err
	}
	return hdr[0], rr.body, nil
}

// buffered reports whether more input is already in memory; when it is
// not, a writer should flush before the next read may block.
func (rr *rawReader) buffered() bool { return rr.r.Buffered() > 0 }

// writeRaw appends one message in wire form to w.
func writeRaw(w *bufio.Writer, typ byte, body []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}
