package publish

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// ringReader holds a channel's newest items, newest first, as the store
// would return them; add pushes a new item and drops the oldest.
type ringReader struct {
	items []feed.Item
	n     int
}

func (r *ringReader) Items(ids []string, limit int) ([]feed.Item, error) {
	return slices.Clone(r.items[:min(limit, len(r.items))]), nil
}

// ItemsAfter serves only the first page: the ring holds exactly a channel.
func (r *ringReader) ItemsAfter(ids []string, after *feed.Item, limit int) ([]feed.Item, error) {
	if after != nil {
		return nil, nil
	}
	return r.Items(ids, limit)
}

func (r *ringReader) Lookup(sourceIDs, keys []string) ([]feed.Item, error) { return nil, nil }

func (r *ringReader) States() ([]feed.SourceState, error) {
	return []feed.SourceState{{SourceID: "src", Title: "Source", Link: "https://src.example/"}}, nil
}

func (r *ringReader) add() {
	it := r.items[len(r.items)-1]
	r.n++
	it.Key = fmt.Sprintf("id:new-%d", r.n)
	it.ID = fmt.Sprintf("https://src.example/new/%d", r.n)
	it.Published = r.items[0].Published.Add(time.Minute)
	it.Updated = it.Published
	copy(r.items[1:], r.items[:len(r.items)-1])
	r.items[0] = it
}

// BenchmarkRefresh is the cost of publishing one new item: the channel's 50
// newest items re-rendered in every format (issue 7: < 5 ms, allocations
// reported). The store's part is BenchmarkItems in internal/store.
func BenchmarkRefresh(b *testing.B) {
	in := benchInput(50)
	for i := range in.Items {
		in.Items[i].SourceID = "src"
		in.Items[i].Published = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Hour)
	}
	r := &ringReader{items: in.Items}
	c := NewCache(r, "https://agg.example")
	if err := c.Configure([]feed.Channel{{ID: "ch", Title: "Channel", Sources: []string{"src"}, Limit: 50}},
		[]feed.Source{{ID: "src", URL: "https://src.example/feed"}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.add()
		if err := c.Refresh("src"); err != nil {
			b.Fatal(err)
		}
	}
	if s, ok := c.Snapshot("ch"); !ok || len(s.Docs) != len(Formats) || len(s.Items) != 50 {
		b.Fatalf("snapshot after refresh: ok=%v docs=%d", ok, len(s.Docs))
	}
}
