package pgcluster

import (
	"context"
	"errors"
	"fmt"
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

// Freeze stops (SIGSTOP) the postmaster and every server process: the
// server keeps its sockets open but answers nothing, like a hung host.
// Thaw resumes them; Close thaws a frozen cluster first.
func (c *Cluster) Freeze() error { return c.signalGroup(syscall.SIGSTOP) }

// Thaw resumes a cluster stopped by Freeze (SIGCONT).
func (c *Cluster) Thaw() error { return c.signalGroup(syscall.SIGCONT) }

// signalGroup signals the postmaster's process group: it and every
// backend it forked (the group is its own, see serverAccount.command).
func (c *Cluster) signalGroup(sig syscall.Signal) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return errors.New("pgcluster: no server process")
	}
	if err := syscall.Kill(-c.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to the server's processes: %w", sig, err)
	}
	return nil
}
