package app

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// BenchmarkRefresh304 is issue 17's refresh without the process around
// it: `aggregator fetch`'s PollSources over 1,000 sources on 1,000 hosts
// of the in-process network (no sockets), every one answering 304 to the
// ETag the first pass stored, into a bbolt store, at the default
// concurrency. It reports sources/s.
func BenchmarkRefresh304(b *testing.B) {
	const n = 1000
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<rss version="2.0"><channel><title>%s</title><item><title>one</title><link>http://example.test%s/1</link></item></channel></rss>`, r.URL.Path, r.URL.Path)
	})
	var y strings.Builder
	fmt.Fprintf(&y, "storage: { path: %q }\nfetch: { host_gap: 0s }\nsources:\n", filepath.Join(b.TempDir(), "a.db"))
	for i := range n {
		fmt.Fprintf(&y, "  - { id: s%04d, url: \"%s/feed\" }\n", i, apptest.Serve(b, h))
	}
	cfg, err := config.Parse(strings.NewReader(y.String()), "feeds.yaml")
	if err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(cfg.Storage.Path, bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sources, err := SelectSources(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := NewPoller(cfg, NewClient(cfg, apptest.Transport()), db, nil, nil)
	for _, r := range PollSources(b.Context(), p, db, sources) {
		if r.Error != "" {
			b.Fatalf("first pass: %s: %s", r.SourceID, r.Error)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		for _, r := range PollSources(b.Context(), p, db, sources) {
			if !r.NotModified {
				b.Fatalf("%s: not a 304 (status %d, %s)", r.SourceID, r.Status, r.Error)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sources/s")
}
