package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
)

// memListener is a net.Listener of in-memory connections (net.Pipe):
// Run's HTTP server is exercised with no socket.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// dial connects to the listener, as a client's DialContext.
func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// serviceGoroutines lists the goroutines, other than the caller's, that run
// code of the service or of what it owns: the module's packages, the
// config watcher, the HTTP server's; with the search index's, when
// search is set (a closed bleve index lets go of its files in a goroutine
// of its own, which ends soon after).
func serviceGoroutines(search bool) []string {
	marks := []string{"github.com/kpolicy/aggregator/internal/", "fsnotify", "net/http.(*Server)", "net/http.(*conn)"}
	if search {
		marks = append(marks, "blevesearch")
	}
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		// This goroutine, bleve's analysis workers, which its package
		// starts once for the process, and the bbolt store's own (it gives
		// its map back after writes, internal/store/bolt/unmap.go): the
		// store is the caller's (Deps.Store), open before New and after Run.
		if i == 0 || strings.Contains(g, "bleve_index_api.AnalysisWorker") || strings.Contains(g, "store/bolt.(*DB).startUnmap") {
			continue
		}
		for _, mark := range marks {
			if strings.Contains(g, mark) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// settledGoroutines waits up to 5 s for the goroutine count to come down
// to at most n and for the search index's goroutines to end (the test
// client's connection goroutines and bleve's file release end after Run
// returns), and returns the count and the search index's goroutines left.
func settledGoroutines(n int) (int, []string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, left := runtime.NumGoroutine(), serviceGoroutines(true)
		if got <= n && len(left) == 0 || time.Now().After(deadline) {
			return got, left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunJoinsEveryGoroutine runs the whole service (its HTTP server on an
// in-memory listener, polls, the config watcher, a reload, the indexes,
// the hub) and stops it: once Run has returned, no goroutine of the
// service is left, and the goroutine count is back to what it was before
// New.
func TestRunJoinsEveryGoroutine(t *testing.T) {
	o := newOrigin(t)
	path := writeConfig(t, o.URL, "")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg)
	defer db.Close()
	if left := serviceGoroutines(true); len(left) > 0 {
		t.Fatalf("before New, %d goroutines of the service run already:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	before := runtime.NumGoroutine()

	ln := newMemListener()
	logs := &apptest.SyncBuffer{}
	started := make(chan struct{})
	a, err := New(cfg, Deps{Store: db, Logger: slog.New(slog.NewTextHandler(logs, nil)), Transport: apptest.Transport(),
		Listener: ln, Load: func() (config.Config, error) { return config.Load(path) }, Watch: path,
		Started: func() { close(started) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-started
	apptest.ServeAt(t, cfg.Server.BaseURL, a.Handler())
	apptest.WaitForItems(t, cfg.Server.BaseURL, "think-tanks", 3)
	apptest.WaitForSearch(t, cfg.Server.BaseURL, "Yongbyon")

	// One request through Run's HTTP server.
	tr := &http.Transport{DialContext: ln.dial}
	resp, err := (&http.Client{Transport: tr}).Get("http://aggregator.test/feeds/think-tanks.atom")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET through the listener: %d", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	a.Reload("test")
	apptest.Eventually(t, "the reload", func() bool { return strings.Contains(logs.String(), "config reloaded") })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// At once: nothing of the service's own may be left to end later.
	if left := serviceGoroutines(false); len(left) > 0 {
		t.Fatalf("after Run returned, %d goroutines of the service still run:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if got, left := settledGoroutines(before); got > before || len(left) > 0 {
		t.Errorf("goroutines: %d before New, %d after Run returned; the search index's left:\n%s", before, got, strings.Join(left, "\n\n"))
	}
	if err := a.Run(context.Background()); err == nil {
		t.Error("a second Run returned nil")
	}
}

// TestCloseWithoutRun: an App built and never run releases what New
// started (the hub's workers, the search index's) on Close.
func TestCloseWithoutRun(t *testing.T) {
	o := newOrigin(t)
	cfg, err := config.Load(writeConfig(t, o.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg)
	defer db.Close()
	before := runtime.NumGoroutine()
	ln := newMemListener()
	a, err := New(cfg, Deps{Store: db, Transport: apptest.Transport(), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if left := serviceGoroutines(false); len(left) > 0 {
		t.Fatalf("after Close, %d goroutines of the service still run:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if got, left := settledGoroutines(before); got > before || len(left) > 0 {
		t.Errorf("goroutines: %d before New, %d after Close; the search index's left:\n%s", before, got, strings.Join(left, "\n\n"))
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener given was not closed")
	}
}
