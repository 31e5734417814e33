//go:build linux

package proxy

import (
	"net"

	"golang.org/x/sys/unix"
)

// tcpAcked is how many bytes of ours the peer's TCP has acknowledged on
// c, a plain TCP connection; ok is false for anything else. The kernel
// acknowledges bytes that reached an open socket of the peer, whether or
// not its process read them; bytes that find the peer's socket closed
// are answered with a reset and never acknowledged.
func tcpAcked(c net.Conn) (acked uint64, ok bool) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}
