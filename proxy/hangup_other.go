//go:build !unix

package proxy

import "syscall"

// hungUp is not implemented here: a client that hangs up is noticed when
// its statement ends.
func hungUp(syscall.RawConn) bool { return false }
