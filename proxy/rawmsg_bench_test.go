package proxy

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// BenchmarkRawReaderSmallRows reads 100-byte DataRows and writes them
// out again, the proxy's hot path, in memory: the cost of framing alone.
func BenchmarkRawReaderSmallRows(b *testing.B) {
	var stream bytes.Buffer
	body := bytes.Repeat([]byte{'x'}, 100)
	for range 1000 {
		stream.WriteByte('D')
		stream.Write([]byte{0, 0, 0, 104})
		stream.Write(body)
	}
	src := stream.Bytes()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		rr := newRawReader(bytes.NewReader(src), 1<<20)
		w := bufio.NewWriterSize(io.Discard, 16<<10)
		for range 1000 {
			typ, body, err := rr.next()
			if err != nil {
				b.Fatal(err)
			}
			if err := writeRaw(w, typ, body); err != nil {
				b.Fatal(err)
			}
		}
	}
}
