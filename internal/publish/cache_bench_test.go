package publish

import (
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// BenchmarkRefresh is the cost of publishing one new item: the channel's
// 50 newest items rendered again in every format (issue 7: < 5 ms,
// allocations reported), as the first requests after the change do. The
// index's part is in internal/membership and internal/store.
func BenchmarkRefresh(b *testing.B) {
	in := benchInput(50)
	m := &fakeMembers{items: map[string][]feed.Item{}}
	for i := range in.Items {
		in.Items[i].SourceID = "src"
		in.Items[i].Published = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Hour)
		m.items["ch"] = append(m.items["ch"], in.Items[i])
	}
	c := NewCache(m, fakeStates{{SourceID: "src", Title: "Source", Link: "https://src.example/"}}, "https://agg.example")
	if err := c.Configure([]feed.Channel{{ID: "ch", Title: "Channel", Sources: []string{"src"}, Limit: 50}},
		[]feed.Source{{ID: "src", URL: "https://src.example/feed"}}); err != nil {
		b.Fatal(err)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		it := m.items["ch"][len(m.items["ch"])-1]
		it.Key, it.Published = "id:new-"+time.Duration(n).String(), m.items["ch"][0].Published.Add(time.Minute)
		m.items["ch"] = append([]feed.Item{it}, m.items["ch"][:49]...)
		c.Invalidate("ch")
		for _, f := range Formats {
			if _, err := c.Document("ch", f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
