//go:build unix

package proxy

import (
	"io"
	"net"
	"syscall"
)

// rawConnOf is the RawConn of a plain TCP or Unix socket, nil for
// anything else: a TLS connection, or any wrapper, must be read through
// its Read method.
func rawConnOf(r io.Reader) syscall.RawConn {
	var sc syscall.Conn
	switch c := r.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readFD is the RawConn.Read callback of an idle client: it reads the
// socket into a pooled buffer, and gives the buffer back and asks to wait
// when the socket has nothing yet.
func (cr *clientReader) readFD(fd uintptr) bool {
	if cr.big == nil {
		cr.take()
	}
	for {
		n, err := syscall.Read(int(fd), *cr.big)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			cr.release()
			return false
		}
		cr.rawN, cr.rawErr = max(n, 0), err
		return true
	}
}
