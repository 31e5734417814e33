package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ShutdownMode is how Restart stops the server, as pg_ctl's -m names it.
type ShutdownMode string

const (
	// Fast rolls back every transaction, tells each session FATAL
	// 57P01 and closes it, and writes a shutdown checkpoint (SIGINT).
	Fast ShutdownMode = "fast"
	// Immediate kills every server process without a word; start-up
	// then runs crash recovery (SIGQUIT).
	Immediate ShutdownMode = "immediate"
)

// Restart stops the server in mode, as `pg_ctl restart -m <mode>` does,
// and starts it again on the same port and data directory, waiting until
// it accepts connections. Every connection open before it is gone after.
func (c *Cluster) Restart(ctx context.Context, mode ShutdownMode) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return errors.New("pgcluster: restart of a closed cluster")
	}
	sig := syscall.SIGINT
	switch mode {
	case Fast:
	case Immediate:
		sig = syscall.SIGQUIT
	default:
		return fmt.Errorf("pgcluster: unknown shutdown mode %q", mode)
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal postmaster: %w", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("postgres did not stop within 30s (%s shutdown); its log says:\n%s", mode, c.logTail())
	case <-ctx.Done():
		return ctx.Err()
	}
	c.exited = make(chan struct{})
	if err := c.launch(); err != nil {
		return err
	}
	return c.waitReady(ctx)
}

// Freeze stops (SIGSTOP) the postmaster and every server process it
// forked: the server keeps its sockets open but answers nothing, like a
// hung host. Thaw resumes them; Close thaws a frozen cluster first.
func (c *Cluster) Freeze() error { return c.signalAll(syscall.SIGSTOP) }

// Thaw resumes a cluster stopped by Freeze (SIGCONT).
func (c *Cluster) Thaw() error { return c.signalAll(syscall.SIGCONT) }

// signalAll signals the postmaster, then each of its children. Backends
// start sessions of their own (setsid), so the postmaster's process
// group does not reach them: they are found through /proc.
func (c *Cluster) signalAll(sig syscall.Signal) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return errors.New("pgcluster: no server process")
	}
	pm := c.cmd.Process.Pid
	if err := syscall.Kill(pm, sig); err != nil {
		return fmt.Errorf("signal %v to the postmaster: %w", sig, err)
	}
	children, err := childrenOf(pm)
	if err != nil {
		return err
	}
	for _, pid := range children {
		_ = syscall.Kill(pid, sig) // one that just exited is no matter
	}
	return nil
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: list server processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// its closing parenthesis.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		fields := strings.Fields(string(rest))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out, nil
}
