//go:build !unix

package proxy

import (
	"io"
	"syscall"
)

// rawConnOf reads every connection through its Read method here.
func rawConnOf(io.Reader) syscall.RawConn { return nil }

func (cr *clientReader) readFD(uintptr) bool { return true }
