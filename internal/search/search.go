// Package search owns the full-text index of every published item: a bleve
// (scorch) index in its own directory beside the database file, fed from
// the store's write order (feed.Item.Rev) so that it catches up after a
// crash, and queried by the server's search page.
//
// An item is indexed with the ids of the channels that publish it, as the
// membership index says (Store.ChannelsOf), and only then: an item in no
// channel, or deleted, leaves the index in the pass that follows its write
// (a deletion, or a change of its channels, writes it again in the write
// order), so search finds what the site publishes and Count counts it.
//
// The mapping is lean: it indexes only what a query filters or matches on
// (title, text, source, channels, published) and stores nothing but the document id
// (the item's [feed.Item.Ref]) and the published date's doc values for
// sorting; titles and snippets come back from the store. Text is analysed
// with bleve's cjk analyzer (Unicode word segmentation, lower case, Han and
// Kana cut into overlapping bigrams) after Hangul words have been cut into
// bigrams here (hangulBigrams), so that "뉴스" finds "뉴스를".
//
// An Indexer keeps the index up to date off the request path; a failed
// write (a full disk) is an error, recorded and retried with backoff, never
// a panic, and the index is reopened from what was persisted before the
// next write (write.go). A long catch-up ends by merging the index into one
// segment (compact). Search is bounded in length, words, time and
// searches at once (query.go).
//
// It must not write to the store except the "last indexed" number, and it
// never runs in the request path except for Search.
package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/kpolicy/aggregator/internal/feed"
)

// doc is what is indexed of an item.
type doc struct {
	Title     string    `json:"title"`
	Text      string    `json:"text"` // title, summary and content as plain text
	Source    string    `json:"source"`
	Channels  []string  `json:"channels"` // the labels of the channels that publish it
	Published time.Time `json:"published"`
}

// mappingVersion is written beside the index: an index written with
// another mapping is built again (Open).
const mappingVersion = "2" // 2: channels

// Index is an open search index. Its methods are safe for concurrent use.
type Index struct {
	dir   string
	slots chan struct{} // one per search running; see acquire

	mu     sync.RWMutex // held to read bleve; held exclusively to reopen it (write.go)
	bleve  bleve.Index  // nil when a reopen failed
	broken atomic.Bool  // a write failed: reopen before the next one

	writes  atomic.Uint64 // counts writes, so that what Sources keeps is known stale
	sources sourcesCache
}

// Open opens the index in dir, creating it (and dir) when missing. An
// index written with an older mapping is removed and created empty, and
// the store's indexed Rev is reset, so that the next Sync indexes every
// item again; st may be nil when dir holds a current index or none.
func Open(dir string, st ...Store) (*Index, error) {
	old, err := os.ReadFile(filepath.Join(dir, versionFile))
	if err == nil && strings.TrimSpace(string(old)) != mappingVersion || errors.Is(err, os.ErrNotExist) && exists(dir) {
		if len(st) == 0 {
			return nil, fmt.Errorf("open search index %s: written by an older version (rebuild it with: aggregator reindex)", dir)
		}
		if err := Remove(dir); err != nil {
			return nil, err
		}
		// Opening is not cancelled: the reset is one small write.
		if err := st[0].SetIndexedRev(context.Background(), 0); err != nil {
			return nil, fmt.Errorf("open search index %s: %w", dir, err)
		}
	}
	b, err := bleve.Open(dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		if b, err = bleve.New(dir, newMapping()); err == nil {
			// A new index holds nothing: its bookmark says so, rather than
			// leave Sync to adopt the store's, which may be another
			// instance's index's.
			err = b.SetInternal([]byte(bookmarkKey), make([]byte, 8))
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, versionFile), []byte(mappingVersion+"\n"), 0o644)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", dir, err)
	}
	return &Index{bleve: b, dir: dir, slots: make(chan struct{}, concurrentSearches)}, nil
}

// versionFile holds mappingVersion in the index directory.
const versionFile = "aggregator-mapping"

func exists(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}

// Remove deletes the index directory dir; the index must be closed.
func Remove(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove search index: %w", err)
	}
	return nil
}

func newMapping() mapping.IndexMapping {
	text := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = cjk.AnalyzerName
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, false
		return f
	}
	source := bleve.NewKeywordFieldMapping()
	source.Analyzer = keyword.Name
	source.Store, source.IncludeTermVectors, source.IncludeInAll, source.DocValues = false, false, false, false
	published := bleve.NewDateTimeFieldMapping()
	published.Store, published.IncludeInAll, published.DocValues = false, false, true

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt("title", text())
	dm.AddFieldMappingsAt("text", text())
	dm.AddFieldMappingsAt("source", source)
	channels := bleve.NewKeywordFieldMapping()
	channels.Analyzer = keyword.Name
	channels.Store, channels.IncludeTermVectors, channels.IncludeInAll, channels.DocValues = false, false, false, false
	dm.AddFieldMappingsAt("channels", channels)
	dm.AddFieldMappingsAt("published", published)

	im := bleve.NewIndexMapping()
	im.DefaultMapping = dm
	im.DefaultAnalyzer = cjk.AnalyzerName
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	return im
}

// Close closes the index.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.bleve == nil {
		return nil
	}
	if err := ix.bleve.Close(); err != nil {
		return fmt.Errorf("close search index %s: %w", ix.dir, err)
	}
	return nil
}

// Add indexes items in one batch, replacing earlier versions of the same
// items, each with the channels channelsOf says publish it. An item that
// no channel publishes, or that is gone (Seq zero, see store.ItemsSince),
// is removed instead: the index holds what readers can find. A failed
// write (a full disk) leaves the index as it was at the last write that
// succeeded, and the next Add first reopens it (see write); it never
// panics.
func (ix *Index) Add(items []feed.Item, channelsOf func(feed.Item) ([]string, error)) error {
	return ix.write(func(b *bleve.Batch) error {
		return fill(b, items, channelsOf)
	})
}

// fill adds items to b.
func fill(b *bleve.Batch, items []feed.Item, channelsOf func(feed.Item) ([]string, error)) error {
	for _, it := range items {
		var chans []string
		if it.Seq != 0 {
			var err error
			if chans, err = channelsOf(it); err != nil {
				return fmt.Errorf("index %s %s: %w", it.SourceID, it.Key, err)
			}
		}
		if len(chans) == 0 {
			b.Delete(it.Ref())
			continue
		}
		body := Text(it.Summary)
		if c := Text(it.Content); c != "" && c != body {
			body += "\n" + c
		}
		d := doc{Title: hangulBigrams(it.Title), Text: hangulBigrams(it.Title + "\n" + body), Source: it.SourceID,
			Channels: chans, Published: it.Sort().UTC()}
		if err := b.Index(it.Ref(), d); err != nil {
			return fmt.Errorf("index %s %s: %w", it.SourceID, it.Key, err)
		}
	}
	return nil
}

// Count returns the number of items in the index: those a reader can find.
func (ix *Index) Count() (uint64, error) {
	b, done, err := ix.read()
	if err != nil {
		return 0, fmt.Errorf("count search index: %w", err)
	}
	defer done()
	n, err := b.DocCount()
	if err != nil {
		return 0, fmt.Errorf("count search index: %w", err)
	}
	return n, nil
}

// Query is a search. Zero fields do not filter.
type Query struct {
	Text    string   // words to find, all of them (any order); empty matches every item; see MaxQueryBytes
	Sources []string // only items of these sources; non-nil and empty matches nothing
	Channel string   // only items this channel label publishes (Store.ChannelsOf); "" for any
	From    time.Time
	To      time.Time // inclusive; bounds past what the index holds (1677-12-01 to 2262-04-11) are open
	// Newest orders hits newest first (by published date, then Ref)
	// instead of by relevance. By relevance, hits of equal score come in
	// the index's own order (bleve's internal document numbers: stable
	// while the index is not written, so pages of one query agree), not
	// by date: sorting ties by date made every search read the date of
	// every hit.
	Newest bool
	Offset int
	Limit  int // 10 when zero
}

// Result is one page of hits and the number of items that match.
type Result struct {
	Total uint64
	Hits  []Hit
}

// Hit is one matching item.
type Hit struct {
	Ref   string // the item's feed.Item.Ref
	Score float64
}

// Search runs q. A query that is empty once analysed (only punctuation)
// matches nothing. A text over the bounds is ErrQueryTooLong; a search
// that waited or ran too long (others hold every slot) is ErrBusy.
func (ix *Index) Search(ctx context.Context, q Query) (Result, error) {
	if q.Limit <= 0 {
		q.Limit = 10
	}
	tw, err := queryWords(q.Text)
	if err != nil {
		return Result{}, err
	}
	var ok bool
	if q.From, q.To, ok = clampDates(q.From, q.To); !ok {
		return Result{}, nil
	}
	var must []query.Query
	words := analysed(tw)
	if q.Text != "" {
		must = append(must, textQuery(tw))
	}
	if q.Sources != nil {
		var any []query.Query
		for _, s := range q.Sources {
			t := bleve.NewTermQuery(s)
			t.SetField("source")
			any = append(any, t)
		}
		if len(any) == 0 {
			return Result{}, nil
		}
		must = append(must, bleve.NewDisjunctionQuery(any...))
	}
	if q.Channel != "" {
		c := bleve.NewTermQuery(q.Channel)
		c.SetField("channels")
		must = append(must, c)
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		inclusive := true
		r := bleve.NewDateRangeInclusiveQuery(q.From, q.To, &inclusive, &inclusive)
		r.SetField("published")
		must = append(must, r)
	}
	var qq query.Query = bleve.NewMatchAllQuery()
	if len(must) > 0 {
		b := bleve.NewBooleanQuery()
		b.AddMust(must...)
		if q.Text != "" {
			title := bleve.NewMatchQuery(words)
			title.SetField("title")
			title.SetBoost(2)
			b.AddShould(title)
		}
		qq = b
	}
	req := bleve.NewSearchRequestOptions(qq, q.Limit, q.Offset, false)
	if q.Newest || q.Text == "" {
		req.SortBy([]string{"-published", "_id"})
	} else {
		// Score alone: bleve's fast path, which reads nothing of a hit
		// but its score. Equal scores keep the index's own order (its
		// internal document numbers). Any further sort key (the date,
		// the id) made bleve read it for every hit, not only the page:
		// 73% of a search's CPU on the corpus (issue 17,
		// BenchmarkCorpusSearch).
		req.SortBy([]string{"-_score"})
	}
	release, err := ix.acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("search %.40q: %w", q.Text, err)
	}
	defer release()
	bi, done, err := ix.read()
	if err != nil {
		return Result{}, fmt.Errorf("search %.40q: %w", q.Text, err)
	}
	defer done()
	ctx, cancel := context.WithTimeoutCause(ctx, maxQueryTime, ErrBusy)
	defer cancel()
	res, err := bi.SearchInContext(ctx, req)
	if err != nil {
		if context.Cause(ctx) == ErrBusy {
			err = ErrBusy
		}
		return Result{}, fmt.Errorf("search %.40q: %w", q.Text, err)
	}
	out := Result{Total: res.Total, Hits: make([]Hit, 0, len(res.Hits))}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, Hit{Ref: h.ID, Score: h.Score})
	}
	return out, nil
}
