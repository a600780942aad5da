// Command store measures the newest-50 page of a channel and of a source in
// a store of 1,000,000 items against the same page in a store of 10,000
// (100 sources of 100 items against 1,000 sources of 1,000: the pages
// asked for hold 50 items in both), so the figure is a ratio taken in one
// run. It builds both stores with the store package in a temporary
// directory, removes them when done, and prints "key value" lines
// (store.big.*, store.small.*) for bench/run's metrics file.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "store:", err)
		os.Exit(1)
	}
}

func run() error {
	sources := flag.Int("sources", 1000, "sources in the big store; the small one has items/100, so every source has 50 items or more")
	big := flag.Int("items", 1_000_000, "items in the big store")
	small := flag.Int("small", 10_000, "items in the small store")
	channel := flag.Int("channel", 100, "sources in the channel queried")
	queries := flag.Int("queries", 5000, "queries of each kind")
	flag.Parse()
	dir, err := os.MkdirTemp("", "aggbench-store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, size := range []struct {
		name string
		n    int
	}{{"small", *small}, {"big", *big}} {
		name, n := size.name, size.n
		nsrc := *sources
		if name == "small" {
			nsrc = max(*channel, min(nsrc, n/100))
		}
		fmt.Printf("store.%s.items %d\nstore.%s.sources %d\n", name, n, name, nsrc)
		start := time.Now()
		db, err := build(filepath.Join(dir, name+".db"), nsrc, n/nsrc)
		if err != nil {
			return err
		}
		fmt.Printf("store.%s.build_s %.1f\n", name, time.Since(start).Seconds())
		runtime.GC() // the build's garbage is not the queries' cost
		ids := sourceIDs(nsrc)
		chIDs := ids[:*channel]
		ch, err := measure(*queries, func(r *rand.Rand) error {
			_, err := db.ItemsAfter(context.Background(), chIDs, nil, 50)
			return err
		})
		if err != nil {
			db.Close()
			return err
		}
		src, err := measure(*queries, func(r *rand.Rand) error {
			_, err := db.ItemsAfter(context.Background(), ids[r.IntN(len(ids)):][:1], nil, 50)
			return err
		})
		db.Close()
		if err != nil {
			return err
		}
		fmt.Printf("store.%s.channel.p50_ms %.4f\nstore.%s.channel.p99_ms %.4f\n", name, ch[0], name, ch[1])
		fmt.Printf("store.%s.source.p50_ms %.4f\nstore.%s.source.p99_ms %.4f\n", name, src[0], name, src[1])
	}
	return nil
}

func sourceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%05d", i)
	}
	return ids
}

// build writes perSource items to each source, one SavePoll per 500 items,
// the sources' dates interleaved so a channel's merge has work to do.
func build(path string, sources, perSource int) (*bolt.DB, error) {
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return nil, err
	}
	body := "<p>" + strings.Repeat("한반도 뉴스 본문 text of a story. ", 10) + "</p>"
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for s, id := range sourceIDs(sources) {
		for from := 0; from < perSource; from += 500 {
			batch := make([]feed.Item, 0, 500)
			for i := from; i < min(from+500, perSource); i++ {
				at := base.Add(time.Duration(i)*time.Hour + time.Duration(s)*time.Second)
				batch = append(batch, feed.Item{
					SourceID: id, Key: fmt.Sprintf("id:%s/%07d", id, i), ID: fmt.Sprintf("%s/%07d", id, i),
					Link: fmt.Sprintf("https://%s.example/%d", id, i), Title: fmt.Sprintf("Story %d of %s", i, id),
					Summary: body, Published: at, Updated: at, Dated: true,
				})
			}
			if _, err := db.SavePoll(context.Background(), id, batch, feed.SourceState{SourceID: id}); err != nil {
				db.Close()
				return nil, err
			}
		}
	}
	return db, nil
}

// measure runs q once per query after a warm-up and returns the p50 and p99
// latency in milliseconds.
func measure(queries int, q func(*rand.Rand) error) ([2]float64, error) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if err := q(r); err != nil {
			return [2]float64{}, err
		}
	}
	lat := make([]time.Duration, queries)
	for i := range lat {
		start := time.Now()
		if err := q(r); err != nil {
			return [2]float64{}, err
		}
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return [2]float64{ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])}, nil
}
