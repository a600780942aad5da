package postgres

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

// benchStore is a store of sources × perSource items, one SavePoll per
// source, the sources' dates interleaved, and a membership index "all"
// holding every item. It reports the time a SavePoll of perSource new
// items took.
func benchStore(b *testing.B, sources, perSource int) (*DB, []string) {
	b.Helper()
	u := pgtest.Schema(b)
	db := openURL(b, u, storetest.Options{})
	b.Cleanup(func() { db.Close() })
	ids := make([]string, sources)
	var members []store.Member
	start := time.Now()
	for s := range sources {
		ids[s] = fmt.Sprintf("source-%04d", s)
		its := make([]feed.Item, perSource)
		for i := range its {
			its[i] = newsItem(ids[s], fmt.Sprintf("id:%s/%06d", ids[s], i), fmt.Sprintf("https://%s.example/%d", ids[s], i),
				fmt.Sprintf("%s story %d", ids[s], i), i*sources+s)
		}
		if _, err := db.SavePoll(bg, ids[s], its, state(ids[s])); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("SavePoll of %d new items: %v each (%d polls)", perSource, time.Since(start)/time.Duration(sources), sources)
	all, err := db.ItemsAfter(bg, ids, nil, sources*perSource)
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range all {
		members = append(members, store.Member{SourceID: it.SourceID, Key: it.Key, Seq: it.Seq, Sort: it.Sort(), Pin: -1})
	}
	if _, err := db.UpdateIndexes(bg, map[string]store.IndexUpdate{"all": {Put: members, PageSize: 100, Now: epoch, Complete: true}}); err != nil {
		b.Fatal(err)
	}
	if _, err := db.pool.Exec(bg, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return db, ids
}

// p99 runs f b.N times (b.Loop) and reports its 99th percentile.
func p99(b *testing.B, f func()) {
	var took []time.Duration
	for b.Loop() {
		t := time.Now()
		f()
		took = append(took, time.Since(t))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkChannelQuery is a channel's newest 50 items, for a channel of
// one, 10 and 100 sources in a store of 20,000 items; and the newest 50
// members of a membership index of all of them.
func BenchmarkChannelQuery(b *testing.B) {
	db, ids := benchStore(b, 100, 200)
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
			p99(b, func() {
				its, err := db.ItemsAfter(bg, ids[:n], nil, 50)
				if err != nil || len(its) != 50 {
					b.Fatal(len(its), err)
				}
			})
		})
	}
	b.Run("index", func(b *testing.B) {
		p99(b, func() {
			ms, _, err := db.Newest(bg, "all", nil, 0, 50, false)
			if err != nil || len(ms) != 50 {
				b.Fatal(len(ms), err)
			}
		})
	})
}

// BenchmarkItem is the identity lookup: one stored item by source and key.
func BenchmarkItem(b *testing.B) {
	db, ids := benchStore(b, 10, 200)
	i := 0
	p99(b, func() {
		id := ids[i%len(ids)]
		if _, err := db.Item(bg, id, fmt.Sprintf("id:%s/%06d", id, i%200)); err != nil {
			b.Fatal(err)
		}
		i += 7
	})
}
