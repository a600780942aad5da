package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// countingStore counts the items the store hands out for index reads.
type countingStore struct {
	*bolt.DB
	n atomic.Int64
}

func (c *countingStore) Newest(ctx context.Context, index string, after *store.Member, skip, limit int, reverse bool) ([]store.Member, []feed.Item, error) {
	ms, its, err := c.DB.Newest(ctx, index, after, skip, limit, reverse)
	c.n.Add(int64(len(its)))
	return ms, its, err
}

// bigChannel stores 100 sources of 1,000 items (100,000 in all, a
// realistic amount of text each) and returns the store and a channel
// selecting every source.
func bigChannel(b *testing.B) (*bolt.DB, feed.Channel, []feed.Source) {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "big.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	body := "<p>" + strings.Repeat("한반도 뉴스 본문 text of a story. ", 20) + "</p>"
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var sources []feed.Source
	for s := range 100 {
		id := fmt.Sprintf("source-%03d", s)
		sources = append(sources, feed.Source{ID: id, URL: "https://" + id + ".example/feed"})
		items := make([]feed.Item, 1000)
		for i := range items {
			pub := start.Add(time.Duration(i*100+s) * time.Minute)
			link := fmt.Sprintf("https://%s.example/%06d", id, i)
			items[i] = feed.Item{SourceID: id, Key: "id:" + link, ID: link, Link: link,
				Title: fmt.Sprintf("Story %d of %s", i, id), Content: body,
				Published: pub, Updated: pub, Dated: true}
		}
		if _, err := db.SavePoll(context.Background(), id, items, feed.SourceState{SourceID: id, URL: sources[s].URL}); err != nil {
			b.Fatal(err)
		}
	}
	ch := feed.Channel{ID: "big", Title: "Big", Tags: nil, Limit: 50}
	for _, s := range sources {
		ch.Sources = append(ch.Sources, s.ID)
	}
	return db, ch, sources
}

// BenchmarkChannelPage is the HTML page of a channel of 100,000 items:
// page 1, page 200 (items 3,981 to 4,000) and page 1,000, the deepest
// (items 19,981 to 20,000), each reached as a reader does, through the
// Older link of the page before (a cursor), and pages 200 and 1,000 asked
// for by number alone. items/op counts the items the store handed out for
// one page.
func BenchmarkChannelPage(b *testing.B) {
	db, ch, sources := bigChannel(b)
	cs := &countingStore{DB: db}
	ix := membership.New(cs, membership.Options{})
	if err := ix.Configure(context.Background(), []feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ix.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := ix.WaitCurrent(ctx); err != nil {
		b.Fatal(err)
	}
	cache := publish.NewCache(ix, db, "https://agg.example")
	if err := cache.Configure([]feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Items: db, Members: ix}})
	for _, tc := range []struct {
		page     int
		byNumber bool // ?page=N alone, as a bookmark: the index keys before it are stepped over
	}{{1, false}, {200, false}, {1000, false}, {200, true}, {1000, true}} {
		page := tc.page
		name := fmt.Sprintf("page=%d", page)
		if tc.byNumber {
			name += "/by-number"
		}
		b.Run(name, func(b *testing.B) {
			path := "/channels/big"
			switch {
			case tc.byNumber:
				path = fmt.Sprintf("/channels/big?page=%d", page)
			case page > 1:
				prev, err := ix.Skip(context.Background(), "big", (page-2)*pageSize, pageSize)
				if err != nil {
					b.Fatal(err)
				}
				path = fmt.Sprintf("/channels/big?page=%d&after=%s", page, prev.Last)
			}
			req := httptest.NewRequest(http.MethodGet, path, nil)
			cs.n.Store(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				w := &discard{h: http.Header{}}
				s.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				n++
			}
			b.ReportMetric(float64(cs.n.Load())/float64(n), "items/op")
		})
	}
}
