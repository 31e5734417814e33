package proxy

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestUnconfirmedCancelRetiresTheBackend: a cancel request the server
// has not shown it read (by closing the socket) may still land after the
// lending ends, so the backend must not be lent again; a confirmed one
// leaves it as it was.
func TestUnconfirmedCancelRetiresTheBackend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		confirm bool
	}{{"server reads and closes", true}, {"server never closes", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			defer close(done)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 16)
				_, _ = c.Read(buf)
				if !tc.confirm {
					<-done
				}
			}()
			bk := &backend{addr: ln.Addr().String(), pid: 42, secret: []byte{0, 0, 0, 7}}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err = bk.cancel(ctx, bk.lending.Load())
			if tc.confirm && (err != nil || bk.broken.Load()) {
				t.Fatalf("confirmed cancel: err %v, broken %v", err, bk.broken.Load())
			}
			if !tc.confirm && (err == nil || !bk.broken.Load()) {
				t.Fatalf("unconfirmed cancel: err %v, broken %v; the backend would serve the next borrower", err, bk.broken.Load())
			}
		})
	}
}
