package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// TestDeepPageReadsOnePage is issue 16 case 10: a deep channel page read
// every item before it (page 1,000: 20,001 items, 0.5 s). Now a page
// reads one page of the channel's members, whether it is reached through
// its Older link (a cursor) or by number.
func TestDeepPageReadsOnePage(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "deep.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	items := make([]feed.Item, 2100)
	for i := range items {
		items[i] = feed.Item{Key: fmt.Sprintf("k%04d", i), Title: fmt.Sprintf("Story %04d", i),
			Link: fmt.Sprintf("https://deep.example/%d", i), Published: start.Add(time.Duration(i) * time.Minute), Dated: true}
	}
	if _, err := db.SavePoll(context.Background(), "deep", items, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{DB: db}
	channels := []feed.Channel{{ID: "deep", Title: "Deep", Sources: []string{"deep"}, Limit: 50}}
	sources := []feed.Source{{ID: "deep"}}
	m := membership.New(cs, membership.Options{})
	if err := m.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := m.WaitCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	cache := publish.NewCache(m, db, "")
	if err := cache.Configure(channels, sources); err != nil {
		t.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Items: db, Members: m}})

	prev, err := m.Skip(context.Background(), "deep", 98*pageSize, pageSize) // page 99
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/channels/deep?page=100&after=" + prev.Last.String(), "/channels/deep?page=100"} {
		cs.n.Store(0)
		resp, body := do(t, s, "GET", path)
		if resp.StatusCode != 200 || !strings.Contains(body, "Story 0119<") || !strings.Contains(body, "Story 0100<") || strings.Contains(body, "Story 0120<") {
			t.Fatalf("%s: %d, not items 1,981 to 2,000", path, resp.StatusCode)
		}
		if n := cs.n.Load(); n > 2*pageSize {
			t.Errorf("%s read %d items for a page of %d", path, n, pageSize)
		}
	}
}
