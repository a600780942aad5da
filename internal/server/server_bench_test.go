package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/metrics"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/search"
)

// discard is a ResponseWriter that keeps only the status and headers, so
// the benchmark measures the handler, not a recorder's buffer.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.status = code }

// ReadFrom copies as net/http's response does: through a pooled buffer.
func (d *discard) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// newsCache is the channel "news" of n items of one source, rendered.
func newsCache(b *testing.B, n int) *publish.Cache {
	b.Helper()
	items := make([]feed.Item, n)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range items {
		items[i] = feed.Item{SourceID: "src", Key: fmt.Sprintf("id:%d", i), ID: fmt.Sprintf("https://src.example/%d", i),
			Link: fmt.Sprintf("https://src.example/%d", i), Title: fmt.Sprintf("Story %d 뉴스", i),
			Summary: "<p>A summary of the story, with <b>markup</b>.</p>", Published: at.Add(-time.Duration(i) * time.Hour),
			Updated: at.Add(-time.Duration(i) * time.Hour), Dated: true}
	}
	cache := publish.NewCache(fakeMembers{"news": items}, fakeStates{}, "https://agg.example")
	if err := cache.Configure([]feed.Channel{{ID: "news", Title: "News", Sources: []string{"src"}, Limit: n}},
		[]feed.Source{{ID: "src", URL: "https://src.example/feed"}}); err != nil {
		b.Fatal(err)
	}
	return cache
}

// BenchmarkFeedHandler is the HTTP handler serving a rendered channel of
// 50 items, subscriber statistics and metrics counting: a full GET per
// format, gzip'd, and a conditional GET answered 304.
func BenchmarkFeedHandler(b *testing.B) {
	cache := newsCache(b, 50)
	// As serve wires it: subscriber statistics and metrics count each request.
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Subscribers: NewSubscribers(nil, nil, ""), Feeds: m}})
	serve := func(b *testing.B, path, etag string, want int, header ...string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("User-Agent", "NetNewsWire (RSS Reader; https://netnewswire.com/)")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		b.ReportAllocs()
		for b.Loop() {
			w := &discard{h: http.Header{}}
			s.ServeHTTP(w, req)
			if w.status != want && !(want == 200 && w.status == 0) {
				b.Fatalf("GET %s: status %d, want %d", path, w.status, want)
			}
		}
	}
	for _, f := range publish.Formats {
		b.Run(string(f), func(b *testing.B) { serve(b, "/feeds/news."+string(f), "", http.StatusOK) })
	}
	doc, err := cache.Document("news", publish.Atom)
	if err != nil {
		b.Fatal(err)
	}
	etag := doc.ETag
	b.Run("atom-gzip", func(b *testing.B) { serve(b, "/feeds/news.atom", "", http.StatusOK, "Accept-Encoding", "gzip") })
	b.Run("atom-304", func(b *testing.B) { serve(b, "/feeds/news.atom", etag, http.StatusNotModified) })
}

// BenchmarkFeedLoopback is a feed GET over a real keep-alive connection on
// loopback, the client's cost included: what the handler's writes cost in
// system calls, which a ResponseWriter stand-in cannot show. The channel
// is 500 items (about 300 KB of Atom, 50 KB gzip'd, like the bench's).
func BenchmarkFeedLoopback(b *testing.B) {
	cache := newsCache(b, 500)
	srv := httptest.NewServer(New(cache, fakeHealth{}, Options{}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	doc, err := cache.Document("news", publish.Atom)
	if err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, want int, header ...string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/feeds/news.atom", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		var n int64
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
		}
		b.SetBytes(n)
	}
	b.Run("atom", func(b *testing.B) { get(b, http.StatusOK) })
	b.Run("atom-gzip", func(b *testing.B) { get(b, http.StatusOK, "Accept-Encoding", "gzip") })
	b.Run("atom-304", func(b *testing.B) { get(b, http.StatusNotModified, "If-None-Match", doc.ETag) })
}

// BenchmarkAllSources is the search page's list of sources, sorted by
// title, at 1,000 sources (the bench kit's ingest).
func BenchmarkAllSources(b *testing.B) {
	ch := feed.Channel{ID: "news", Title: "News", Limit: 50}
	var sources []feed.Source
	for i := range 1000 {
		id := fmt.Sprintf("Source-%04d-Ünïcödé", (i*7919)%1000)
		ch.Sources = append(ch.Sources, id)
		sources = append(sources, feed.Source{ID: id, URL: "https://" + fmt.Sprint(i) + ".example/feed"})
	}
	cache := publish.NewCache(fakeMembers{}, fakeStates{}, "https://agg.example")
	if err := cache.Configure([]feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Search: indexedSources(ch.Sources)}})
	ids := slices.Clone(ch.Sources)
	if opts := s.sourceOptions(ids, ""); len(opts) != 1000 {
		b.Fatalf("%d sources, want 1000", len(opts))
	}
	for b.Loop() {
		s.sourceOptions(ids, "")
	}
}

// BenchmarkSearchPage is the search page of a search that finds nothing,
// at 1,000 sources: everything of a search but the index and the store
// (the form, its source list, the template).
func BenchmarkSearchPage(b *testing.B) {
	ch := feed.Channel{ID: "news", Title: "News", Limit: 50}
	var sources []feed.Source
	for i := range 1000 {
		id := fmt.Sprintf("source-%04d", i)
		ch.Sources = append(ch.Sources, id)
		sources = append(sources, feed.Source{ID: id, URL: "https://" + fmt.Sprint(i) + ".example/feed"})
	}
	cache := publish.NewCache(fakeMembers{}, fakeStates{}, "https://agg.example")
	if err := cache.Configure([]feed.Channel{ch}, sources); err != nil {
		b.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Search: indexedSources(ch.Sources), Items: noItems{}, Members: fakeMembers{}}})
	for _, tc := range []struct{ name, url string }{
		{"any source", "/search?q=missile"},
		{"one source", "/search?q=missile&source=source-0500"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest("GET", tc.url, nil)
			for b.Loop() {
				w := &discard{h: http.Header{}}
				s.ServeHTTP(w, req)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// noItems is a store without items.
type noItems struct{}

func (noItems) Item(context.Context, string, string) (feed.Item, error) {
	return feed.Item{}, feed.Errorf(feed.ENOTFOUND, "no item")
}

// indexedSources is a search index that has items of the given sources.
type indexedSources []string

func (indexedSources) Search(context.Context, search.Query) (search.Result, error) {
	return search.Result{}, nil
}
func (indexedSources) Count() (uint64, error)        { return 0, nil }
func (ix indexedSources) Sources() ([]string, error) { return slices.Clone(ix), nil }
