package search

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// TestCorpusSearch stores every feed of $AGGREGATOR_CORPUS/real, indexes
// it, runs 200 queries (a third of them Korean words) and logs the search
// latency (median, p99) and the size of the index against the store's. It
// asserts only what must hold: every query word taken from an item finds
// at least that item, and a Hangul word finds items with it inside longer
// words.
func TestCorpusSearch(t *testing.T) {
	root := os.Getenv("AGGREGATOR_CORPUS")
	if root == "" {
		t.Skip("AGGREGATOR_CORPUS is unset; set it to the shared corpus (../shared/corpus) to run this test")
	}
	limit := 1 << 20
	if raceEnabled {
		limit = 500 // see raceEnabled
	}
	items := corpusItems(t, root, limit)
	idxDir := filepath.Join(t.TempDir(), "idx")
	ix := openIndex(t, idxDir)
	start := time.Now()
	if err := ix.Add(items, func(feed.Item) ([]string, error) { return []string{"all"}, nil }); err != nil {
		t.Fatal(err)
	}
	n := len(items)
	t.Logf("indexed %d items in %v", n, time.Since(start).Round(time.Millisecond))

	// Query words: taken from the items themselves, so each must find at
	// least the item it came from.
	rng := rand.New(rand.NewPCG(1, 2))
	type probe struct {
		word string
		ref  string
	}
	var korean, other []probe
	for _, it := range items {
		for _, w := range strings.Fields(it.Title) {
			rs := []rune(w)
			if slices.ContainsFunc(rs, func(r rune) bool { return !unicode.IsLetter(r) }) {
				continue // "Katie's" is one word to the index, "Katie" not a prefix query
			}
			switch {
			case unicode.Is(unicode.Hangul, rs[0]) && len(rs) >= 2:
				korean = append(korean, probe{string(rs[:2]), it.Ref()}) // the start of a word: must match inside it
			case len(rs) >= 5:
				other = append(other, probe{w, it.Ref()})
			}
		}
	}
	if len(korean) == 0 || len(other) == 0 {
		t.Fatalf("corpus gave %d Korean and %d other words", len(korean), len(other))
	}
	var probes []probe
	for i := range 200 {
		if i%3 == 0 {
			probes = append(probes, korean[rng.IntN(len(korean))])
		} else {
			probes = append(probes, other[rng.IntN(len(other))])
		}
	}
	var times []time.Duration
	for _, pr := range probes {
		start := time.Now()
		res, err := ix.Search(context.Background(), Query{Text: pr.word, Limit: 1000})
		times = append(times, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(res.Hits, func(h Hit) bool { return h.Ref == pr.ref }) && res.Total <= 1000 {
			t.Errorf("%q found %d items, not the one it came from", pr.word, res.Total)
		}
	}
	slices.Sort(times)
	idxSize := dirSize(t, idxDir)
	if raceEnabled {
		t.Log("under the race detector: latency and size not measured")
		return
	}
	t.Logf("search latency over %d queries: median %v, p99 %v, max %v", len(times),
		times[len(times)/2], times[len(times)*99/100], times[len(times)-1])
	t.Logf("index %d KiB, %d items", idxSize>>10, len(items))
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// corpusItems stores every feed of root/real, each file its own source,
// and returns up to limit of the stored items in write order.
func corpusItems(t testing.TB, root string, limit int) []feed.Item {
	t.Helper()
	db := openStore(t)
	p := parse.New()
	sources := 0
	err := filepath.WalkDir(filepath.Join(root, "real"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sources++
		id := fmt.Sprintf("s%03d", sources)
		parsed, err := p.Parse(body, "", "https://corpus.example/"+d.Name(), id)
		if err != nil || len(parsed.Items) == 0 {
			return nil // not every corpus file is a feed with items
		}
		_, err = db.SavePoll(context.Background(), id, parsed.Items, feed.SourceState{SourceID: id})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	items, err := db.ItemsSince(context.Background(), 0, limit)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// BenchmarkCorpusSearch is one page (20 hits) of a search over the corpus
// indexed three times over (three copies of each item under other
// sources, about 17,000 items), for words that match many items: the
// search page's relevance and newest-first orders.
func BenchmarkCorpusSearch(b *testing.B) {
	root := os.Getenv("AGGREGATOR_CORPUS")
	if root == "" {
		b.Skip("AGGREGATOR_CORPUS is unset; set it to the shared corpus (../shared/corpus) to run this benchmark")
	}
	items := corpusItems(b, root, 1<<20)
	ix := openIndex(b, filepath.Join(b.TempDir(), "idx"))
	all := func(feed.Item) ([]string, error) { return []string{"all"}, nil }
	for copy := range 3 {
		batch := slices.Clone(items)
		for i := range batch {
			batch[i].SourceID = fmt.Sprintf("c%d-%s", copy, batch[i].SourceID)
		}
		if err := ix.Add(batch, all); err != nil {
			b.Fatal(err)
		}
	}
	words := []string{"the", "북한", "korea", "news", "정부"}
	for _, tc := range []struct {
		name   string
		newest bool
	}{{"relevance", false}, {"newest", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := ix.Search(context.Background(), Query{Text: words[i%len(words)], Limit: 20, Newest: tc.newest}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
