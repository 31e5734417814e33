//go:build unix

package proxy

import (
	"errors"
	"syscall"
)

// hungUp waits until the client's socket has something to say and
// reports whether that is the client hanging up (end of stream or a
// reset) rather than its next message, which it leaves unread. It
// returns false when the read deadline ends the wait.
func hungUp(rc syscall.RawConn) bool {
	var gone bool
	var buf [1]byte
	err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return false // nothing yet: wait until the socket is readable
		}
		gone = (err == nil && n == 0) || errors.Is(err, syscall.ECONNRESET)
		return true
	})
	return err == nil && gone
}
