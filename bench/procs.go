package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervisor owns every long-running child of a run. Each child gets its own
// process group, so stopping it also stops what it started (npm's node
// processes), and Pdeathsig, so a harness killed without cleanup does not
// leave servers behind.
type supervisor struct {
	mu    sync.Mutex
	procs []*child
}

type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	tail tailLines // the last output lines, for error messages
}

// start runs cmd in its own process group and records it for stop. Its
// combined output goes to logPath.
func (s *supervisor) start(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	return s.startWatching(name, cmd, logPath, nil)
}

// startWatching is start with every output line also handed to watch.
func (s *supervisor) startWatching(name string, cmd *exec.Cmd, logPath string, watch func(string)) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	setGroup(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go copyLines(pr, logf, func(line string) {
		c.tail.add(line)
		if watch != nil {
			watch(line)
		}
	})
	go func() {
		c.err = cmd.Wait()
		_ = pw.Close()
		close(c.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, c)
	s.mu.Unlock()
	return c, nil
}

func copyLines(r io.Reader, logf *os.File, watch func(string)) {
	defer func() { _ = logf.Close() }()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		_, _ = logf.Write(append(sc.Bytes(), '\n'))
		if watch != nil {
			watch(sc.Text())
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// setGroup puts cmd in a new process group that dies with the harness.
func setGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// exited says why the child has exited, or "" while it runs.
func (c *child) exited() string {
	select {
	case <-c.done:
		return fmt.Sprintf("%s exited (%v); its last output: %s", c.name, c.err, c.tail.String())
	default:
		return ""
	}
}

// stop ends one child: SIGTERM to its group, SIGKILL after grace.
func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
}

// stopAll stops every child still running, newest first.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(5 * time.Second)
	}
}

// startUntil starts cmd and waits until an output line contains marker, the
// child exits, or timeout passes.
func (s *supervisor) startUntil(ctx context.Context, name string, cmd *exec.Cmd, logPath, marker string, timeout time.Duration) (*child, error) {
	ready := make(chan struct{})
	var once sync.Once
	c, err := s.startWatching(name, cmd, logPath, func(line string) {
		if strings.Contains(line, marker) {
			once.Do(func() { close(ready) })
		}
	})
	if err != nil {
		return nil, err
	}
	select {
	case <-ready:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, c.err, c.tail.String())
	case <-time.After(timeout):
		c.stop(2 * time.Second)
		return nil, fmt.Errorf("%s not ready after %s: %s", name, timeout, c.tail.String())
	case <-ctx.Done():
		c.stop(2 * time.Second)
		return nil, ctx.Err()
	}
}

// startListening starts cmd and waits until addr accepts a connection;
// a child that does not within timeout is stopped.
func (s *supervisor) startListening(ctx context.Context, name string, cmd *exec.Cmd, logPath, addr string, timeout time.Duration) (*child, error) {
	c, err := s.start(name, cmd, logPath)
	if err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, addr, timeout); err != nil {
		c.stop(time.Second)
		return nil, err
	}
	return c, nil
}

// tailLines keeps the last few output lines for error messages.
type tailLines struct {
	mu    sync.Mutex
	lines []string
}

func (t *tailLines) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > 8 {
		t.lines = t.lines[1:]
	}
}

func (t *tailLines) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}

// waitTCP polls addr until it accepts a connection.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// raiseFileLimit lifts the soft open-files limit to the hard limit; children
// inherit it. Ten thousand idle clients need ten thousand descriptors on
// each side.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, errors.Join(fmt.Errorf("raise open-files limit to %d", rl.Max), err)
	}
	return rl.Cur, nil
}
