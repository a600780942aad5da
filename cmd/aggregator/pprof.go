package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves net/http/pprof's handlers at addr, which must be a
// loopback address (profiles expose the program's internals), until ctx is
// done or stop is called; stop returns once it has stopped. An empty addr
// starts nothing. It returns once the address listens. net/http's own
// complaints (a client that sends garbage) go to log, as the main
// listener's do, not to the standard logger's unformatted stderr.
func startPprof(ctx context.Context, log *slog.Logger, addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, errors.New("pprof: the address must be loopback (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.With("listener", "pprof").Handler(), slog.LevelWarn)}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	unwatch := context.AfterFunc(ctx, func() { srv.Close() })
	// stop closes the server and returns once its goroutine has ended.
	return func() {
		unwatch()
		srv.Close()
		<-served
	}, nil
}
