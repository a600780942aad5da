package main

import (
	"bytes"
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/bench/internal/corpus"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// runParse is the parse-only anchor: gofeed, with its defaults, over the
// very bytes the origin serves to the ingest sources, on GOMAXPROCS
// workers. It also counts the distinct item identities per source (the
// aggregator's rule, feed.Identity, over gofeed's fields): what a store that
// loses nothing holds after one poll of every source.
func runParse(args []string) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	dir := fs.String("corpus", corpus.Dir("."), "corpus directory (holds real/)")
	sources := fs.Int("sources", 1000, "ingest sources")
	rounds := fs.Int("rounds", 2, "passes over all sources; the fastest counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := corpus.Load(*dir)
	if err != nil {
		return err
	}
	set := corpus.NewSet(files)
	bodies := make([][]byte, *sources)
	for i := range bodies {
		bodies[i], _ = set.Body(i)
	}

	workers := runtime.GOMAXPROCS(0)
	var identities, failed atomic.Int64
	best := time.Duration(0)
	var items int64
	for round := range *rounds {
		var n atomic.Int64
		next := atomic.Int64{}
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				p := gofeed.NewParser()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(bodies) {
						return
					}
					f, err := p.Parse(bytes.NewReader(bodies[i]))
					if err != nil {
						if round == 0 {
							failed.Add(1)
						}
						continue
					}
					n.Add(int64(len(f.Items)))
					if round == 0 {
						identities.Add(int64(distinct(f)))
					}
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
		items = n.Load()
	}
	expect, perr := expected(bodies)
	fmt.Printf("expect.identities %d\nexpect.unparsable_sources %d\n", expect, perr)
	fmt.Printf("gofeed.workers %d\ngofeed.items %d\ngofeed.failed %d\ngofeed.wall_s %.4f\ngofeed.items_per_s %.1f\ngofeed.identities %d\n",
		workers, items, failed.Load(), best.Seconds(), float64(items)/best.Seconds(), identities.Load())
	return nil
}

// expected counts the item keys the aggregator's own parser finds in each
// source, distinct per source, and the sources it cannot parse: what a
// store that loses nothing holds after one poll of every source. It runs
// outside the timed passes.
func expected(bodies [][]byte) (items, unparsable int) {
	p := parse.New()
	for i, b := range bodies {
		id := fmt.Sprintf("i%04d", i)
		parsed, err := p.Parse(b, "", "http://127.0.0.1/i/"+strconv.Itoa(i), id)
		if err != nil {
			unparsable++
			continue
		}
		seen := make(map[string]bool, len(parsed.Items))
		for _, it := range parsed.Items {
			seen[it.Key] = true
		}
		items += len(seen)
	}
	return items, unparsable
}

func distinct(f *gofeed.Feed) int {
	seen := make(map[string]bool, len(f.Items))
	for _, it := range f.Items {
		seen[feed.Identity(it.GUID, it.Link, it.Title, it.Content)] = true
	}
	return len(seen)
}
