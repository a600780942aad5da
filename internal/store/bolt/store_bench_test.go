package bolt

import (
	"fmt"
	"testing"
	"time"
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
