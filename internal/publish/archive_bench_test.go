package publish

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// countingStore counts the items the store hands out.
type countingStore struct {
	*store.DB
	n atomic.Int64
}

func (c *countingStore) SeqItems(ids []string, skip, limit int) ([]feed.Item, int, error) {
	out, total, err := c.DB.SeqItems(ids, skip, limit)
	c.n.Add(int64(len(out)))
	return out, total, err
}

// BenchmarkArchivePage renders an archive page of a channel of 100,000
// items (100 sources of 1,000) when it is first asked for: page 1 (the
// oldest) and page 200. items/op counts the items the store handed out.
func BenchmarkArchivePage(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "big.db"), store.Options{})
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
		if _, err := db.SavePoll(id, items, feed.SourceState{SourceID: id, URL: sources[s].URL}); err != nil {
			b.Fatal(err)
		}
	}
	cs := &countingStore{DB: db}
	c := NewCache(cs, "https://agg.example")
	if err := c.Configure([]feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	for _, page := range []int{1, 200} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			cs.n.Store(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				c.pages.reset() // the first request of the page, every time
				if _, err := c.Archive("big", page, Atom); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(cs.n.Load())/float64(n), "items/op")
		})
	}
}
