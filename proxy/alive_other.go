//go:build !unix

package proxy

import "syscall"

// probeIdle cannot peek here; the backend is taken as silent and a dead
// one shows as a failed write or read when it is used.
func probeIdle(syscall.RawConn) probe { return probeSilent }
