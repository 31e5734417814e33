package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// EnvPprof names an address (e.g. 127.0.0.1:6060) to serve Go's pprof
// profiles on, for profiling pgmoat under load. Off when unset.
const EnvPprof = "PGMOAT_PPROF"

// startPprof serves /debug/pprof/ when PGMOAT_PPROF is set.
func startPprof(stderr io.Writer) {
	addr := os.Getenv(EnvPprof)
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "pgmoat: %s=%s: %v (profiling stays off)\n", EnvPprof, addr, err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(l, mux) }()
	fmt.Fprintf(stderr, "pgmoat: pprof on http://%s/debug/pprof/\n", l.Addr())
}
