//go:build linux

package proxy

import (
	"os"
	"sync"
	"syscall"
)

// parkingSupported: Linux parks idle sessions in an epoll set of its own.
const parkingSupported = true

// poller is one goroutine waiting in epoll_wait on the parked sockets.
// The socket stays in the Go runtime's own poller too; the two sets do
// not interfere (a parked socket has no goroutine waiting in Go's). An
// event's data is the park's token, never an fd, so a socket closed and
// its number reused cannot be mistaken for a parked session: a closed
// socket leaves the epoll set by itself.
type poller struct {
	epfd int
	stop [2]int // a pipe: a byte on it ends the wait
	done chan struct{}
	once sync.Once
}

// stopToken marks the stop pipe's event; park tokens start at 1.
const stopToken = 0

// pollBatch is how many events one epoll_wait takes.
const pollBatch = 128

func newPoller(readable func(tok uint64)) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	p := &poller{epfd: epfd, done: make(chan struct{})}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setToken(&ev, stopToken)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		p.closeFDs()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	go p.loop(readable)
	return p, nil
}

// watch puts the socket in the set for one report of input or hang-up,
// under tok. The socket has been in the set before when an earlier park
// ended by its own event (a one-shot registration stays, disarmed), so
// it is modified first and added when it is new to the set. The fd is
// used inside RawConn.Control, so it cannot be closed meanwhile.
func (p *poller) watch(raw syscall.RawConn, tok uint64) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setToken(&ev, tok)
	var err error
	cerr := raw.Control(func(fd uintptr) {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		if err == syscall.ENOENT {
			err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// loop reports each event's token until the stop pipe says to end.
func (p *poller) loop(readable func(tok uint64)) {
	defer close(p.done)
	var events [pollBatch]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return // only a bad epoll fd fails, and that is ours
		}
		for i := range events[:n] {
			tok := token(&events[i])
			if tok == stopToken {
				return
			}
			readable(tok)
		}
	}
}

// close ends the loop and closes the set; the sessions have all ended.
func (p *poller) close() {
	p.once.Do(func() {
		_, _ = syscall.Write(p.stop[1], []byte{0})
		<-p.done
		p.closeFDs()
	})
}

func (p *poller) closeFDs() {
	_ = syscall.Close(p.stop[0])
	_ = syscall.Close(p.stop[1])
	_ = syscall.Close(p.epfd)
}

// setToken and token carry a 64-bit token in the event's data.
func setToken(ev *syscall.EpollEvent, tok uint64) {
	ev.Fd, ev.Pad = int32(uint32(tok)), int32(uint32(tok>>32))
}

func token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
