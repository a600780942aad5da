package bolt

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// benchStore is a store of sources × perSource items, one SavePoll per
// source, the sources' dates interleaved.
func benchStore(b *testing.B, sources, perSource int) (*DB, []string) {
	b.Helper()
	db := openTest(b, Options{})
	ids := make([]string, sources)
	for s := range sources {
		ids[s] = fmt.Sprintf("source-%04d", s)
		items := manyItems(ids[s], perSource, day(0).Add(time.Duration(s)*time.Minute))
		if _, err := db.SavePoll(ctx, ids[s], items, state(ids[s])); err != nil {
			b.Fatal(err)
		}
	}
	return db, ids
}

// BenchmarkItem is the identity lookup: one stored item by source and key.
func BenchmarkItem(b *testing.B) {
	db, ids := benchStore(b, 100, 1000)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		id := ids[i%len(ids)]
		if _, err := db.Item(ctx, id, fmt.Sprintf("id:%s/%06d", id, i%1000)); err != nil {
			b.Fatal(err)
		}
		i += 7
	}
}

// BenchmarkChannelQuery is a channel's newest 50 items, for a channel of
// one, 10 and 100 sources in a store of 100,000 items.
func BenchmarkChannelQuery(b *testing.B) {
	db, ids := benchStore(b, 100, 1000)
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				items, err := itemsOf(db, ids[:n], 50)
				if err != nil || len(items) != 50 {
					b.Fatal(len(items), err)
				}
			}
		})
	}
}

// BenchmarkSaveStateConcurrent is a refresh of 1,000 unchanged sources:
// 1,000 callers saving one state each at once (the poller after 304s).
// An op is the 1,000; states/s is the figure.
func BenchmarkSaveStateConcurrent(b *testing.B) {
	db := openTest(b, Options{})
	const n = 1000
	states := make([]feed.SourceState, n)
	for i := range states {
		states[i] = state(fmt.Sprintf("source-%04d", i))
		states[i].ETag = `"v1"`
	}
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range states {
			wg.Go(func() {
				if err := db.SaveState(ctx, states[i]); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "states/s")
}
