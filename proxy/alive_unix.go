//go:build unix

package proxy

import (
	"errors"
	"syscall"
)

// probeIdle looks at an idle backend's socket without blocking and
// without consuming anything: a peek that finds nothing to read means the
// server is still there and silent; end of stream or a reset means it
// went away; bytes mean it said something nobody asked for (a FATAL
// before it closed). A read deadline cannot do this: Go reports a past
// deadline without reading the socket at all.
func probeIdle(rc syscall.RawConn) probe {
	result := probeSilent
	var buf [1]byte
	err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
			result = probeSilent
		case err != nil || n == 0:
			result = probeClosed
		default:
			result = probeSpoke
		}
		return true // never wait for the socket to become readable
	})
	if err != nil {
		return probeClosed
	}
	return result
}
