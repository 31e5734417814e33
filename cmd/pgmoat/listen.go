package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

// listenUnix listens on dir/.s.PGSQL.<port>, the socket psql and libpq
// look for with -h dir -p port. A socket file left by a process that
// died (connecting is refused) is replaced; anything else there — a live
// server, even a busy one, a socket of another user, a file that is not
// a socket — is left alone and reported.
func listenUnix(dir, tcpListen string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(tcpListen)
	if err != nil {
		return nil, fmt.Errorf("proxy.unix_socket: the port comes from proxy.listen %q: %w", tcpListen, err)
	}
	path := filepath.Join(dir, ".s.PGSQL."+port)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("proxy.unix_socket: %s exists and is not a socket; remove it or choose another directory", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			_ = c.Close()
			return nil, fmt.Errorf("proxy.unix_socket: %s is in use (is another pgmoat or PostgreSQL listening there?)", path)
		case !errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("proxy.unix_socket: %s is there and may be in use: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("proxy.unix_socket: removing the stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy.unix_socket: %w (does the directory %s exist and is it writable?)", err, dir)
	}
	// Like PostgreSQL's default unix_socket_permissions: who may connect
	// is decided by authentication, not by the file mode.
	if err := os.Chmod(path, 0o777); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("proxy.unix_socket: %w", err)
	}
	return l, nil
}

// loadTLS reads the proxy's certificate and key, when configured.
func loadTLS(t config.TLS) (*tls.Config, error) {
	if t.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("proxy.tls: %w (cert %s, key %s)", err, t.Cert, t.Key)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
