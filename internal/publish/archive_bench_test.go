package publish

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// countingStore counts the stories the store hands out for index reads.
type countingStore struct {
	*bolt.DB
	n atomic.Int64
}

func (c *countingStore) BySeq(ctx context.Context, index string, from, to uint64, limit int) ([]store.Member, []feed.Item, error) {
	ms, its, err := c.DB.BySeq(ctx, index, from, to, limit)
	c.n.Add(int64(len(its)))
	return ms, its, err
}

func (c *countingStore) Newest(ctx context.Context, index string, after *store.Member, skip, limit int, reverse bool) ([]store.Member, []feed.Item, error) {
	ms, its, err := c.DB.Newest(ctx, index, after, skip, limit, reverse)
	c.n.Add(int64(len(its)))
	return ms, its, err
}

// BenchmarkArchivePage renders an archive page of a channel of 100,000
// items (100 sources of 1,000) in the three formats when it is first asked
// for: page 1 (the oldest) and page 200. items/op counts the items the
// store handed out.
func BenchmarkArchivePage(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "big.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	body := "<p>" + strings.Repeat("한반도 뉴스 본문 text of a story. ", 20) + "</p>"
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var sources []feed.Source
	ch := feed.Channel{ID: "big", Title: "Big", Limit: 50}
	for s := range 100 {
		id := fmt.Sprintf("source-%03d", s)
		sources = append(sources, feed.Source{ID: id, URL: "https://" + id + ".example/feed"})
		ch.Sources = append(ch.Sources, id)
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
	c := NewCache(ix, db, "https://agg.example")
	if err := c.Configure([]feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	for _, page := range []int{1, 200} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			cs.n.Store(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				c.Invalidate() // the first request of the page, every time
				for _, f := range Formats {
					if _, err := c.Archive("big", page, f); err != nil {
						b.Fatal(err)
					}
				}
				n++
			}
			b.ReportMetric(float64(cs.n.Load())/float64(n), "items/op")
		})
	}
}
