//go:build !linux

package proxy

import (
	"errors"
	"syscall"
)

// parkingSupported: sessions keep their goroutine while idle here.
const parkingSupported = false

type poller struct{}

func newPoller(func(uint64)) (*poller, error) {
	return nil, errors.New("parking idle sessions needs Linux")
}

func (*poller) watch(syscall.RawConn, uint64) error { return errors.ErrUnsupported }

func (*poller) close() {}
