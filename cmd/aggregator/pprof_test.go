package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestStartPprof(t *testing.T) {
	t.Run("refuses a non-loopback address", func(t *testing.T) {
		for _, addr := range []string{":6060", "0.0.0.0:6060", "192.0.2.1:6060", "example.org:6060"} {
			if _, err := startPprof(t.Context(), slog.New(slog.DiscardHandler), addr); err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("startPprof(%q) = %v, want a loopback error", addr, err)
			}
		}
	})
	t.Run("serves the profiles on loopback", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		stop, err := startPprof(context.Background(), slog.New(slog.DiscardHandler), addr)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusOK; got != want {
			t.Fatalf("status=%d, want %d", got, want)
		}
	})
}
