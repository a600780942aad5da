package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// rss is a feed of the first n of a fixed list of stories.
func wireFeed(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>`)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, `<item><title>Story %d</title><link>https://wire.example/%d</link><guid>wire-%d</guid><pubDate>%s</pubDate><description>Body %d</description></item>`,
			i, i, i, time.Date(2026, 11, 20+i, 9, 0, 0, 0, time.UTC).Format(time.RFC1123Z), i)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// instance is one App of several sharing a store, run until the test ends.
type instance struct {
	*App
	logs *apptest.SyncBuffer
}

func startInstance(t *testing.T, cfgText string) *instance {
	t.Helper()
	cfg, err := config.Load(writeFile(t, cfgText))
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), cfg.Storage.Path, postgres.Options{TitleWindow: cfg.Dedupe.TitleWindow})
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.SyncBuffer{}
	started := make(chan struct{})
	a, err := New(cfg, Deps{Store: db, Logger: slog.New(slog.NewTextHandler(logs, nil)), Transport: apptest.Transport(),
		Started: func() { close(started) }})
	if err != nil {
		db.Close()
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Errorf("Run did not return\n%s", logs)
		}
		db.Close()
	})
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned before it started: %v\n%s", err, logs)
	}
	return &instance{App: a, logs: logs}
}

// get serves path through the instance's handler.
func (in *instance) get(path string) (int, string, string) {
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://aggregator.test"+path, nil))
	return rec.Code, rec.Header().Get("ETag"), rec.Body.String()
}

// TestChangesReachOtherInstance: two instances on one PostgreSQL store; a
// poll on A stores a new story, and B serves it, with A's ETag, without
// polling: the change feed told it.
func TestChangesReachOtherInstance(t *testing.T) {
	pgURL := pgtest.Schema(t)
	page := apptest.NewPage("/wire.rss", "application/rss+xml", wireFeed(1))
	originURL := apptest.Serve(t, page)
	conf := func(search string) string {
		return fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q, search: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: wire, url: %q, title: "Wire" }
channels:
  - { id: all, title: All, description: "Everything", sources: [wire] }
`, pgURL, search, originURL+"/wire.rss")
	}
	a := startInstance(t, conf(filepath.Join(t.TempDir(), "a.search")))
	b := startInstance(t, conf(filepath.Join(t.TempDir(), "b.search")))

	// Both polled at their start (the same body): both serve story 1.
	for _, in := range []*instance{a, b} {
		apptest.Eventually(t, "story 1 served by both", func() bool {
			code, _, body := in.get("/feeds/all.atom")
			return code == 200 && strings.Contains(body, "Story 1")
		})
	}
	// Let both settle (their indexes built, their loops waiting), so that
	// only the change feed can tell B of what follows.
	for _, in := range []*instance{a, b} {
		apptest.Eventually(t, "story 1 found by both searches", func() bool {
			code, _, body := in.get("/search?format=json&q=Story")
			return code == 200 && strings.Contains(body, "Story 1")
		})
	}
	quiet(t, a.st)
	polls := len(page.Requests())

	page.Serve(wireFeed(2))
	if _, err := a.Poll(context.Background(), []string{"wire"}); err != nil {
		t.Fatalf("Poll on A: %v", err)
	}
	var etagA string
	apptest.Eventually(t, "A serving story 2", func() bool {
		code, etag, body := a.get("/feeds/all.atom")
		etagA = etag
		return code == 200 && strings.Contains(body, "Story 2")
	})
	var codeB int
	var etagB, bodyB string
	t.Cleanup(func() {
		if t.Failed() { // what B served last, and what both logged
			t.Logf("A's ETag %s; B's last answer %d %s:\n%s\nA's log:\n%s\nB's log:\n%s", etagA, codeB, etagB, bodyB, a.logs, b.logs)
		}
	})
	apptest.Eventually(t, "B serving story 2 with A's ETag", func() bool {
		codeB, etagB, bodyB = b.get("/feeds/all.atom")
		return codeB == 200 && strings.Contains(bodyB, "Story 2") && etagB == etagA
	})
	apptest.Eventually(t, "B's search finding story 2", func() bool {
		code, _, body := b.get("/search?format=json&q=Story")
		return code == 200 && strings.Contains(body, "Story 2")
	})
	if got, want := len(page.Requests()), polls+1; got != want {
		t.Errorf("origin requests after A's poll = %d, want %d (B must not have polled)", got, want)
	}
}

// quiet waits until the store's write order has not moved for a second.
func quiet(t *testing.T, st Store) {
	t.Helper()
	last, err := st.LastRev(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	apptest.Eventually(t, "the write order to stay still for a second", func() bool {
		now, err := st.LastRev(context.Background())
		if err != nil || now != last {
			last, since = now, time.Now()
			return false
		}
		return time.Since(since) >= time.Second
	})
}
