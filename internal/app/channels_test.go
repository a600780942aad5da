package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// liveHeap returns the live heap in MiB, after a collection.
func liveHeap() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// TestThousandChannels is issue 16 case 9: 1,000 channels took 5 GB and a
// minute before the port listened, every document and open archive page of
// every channel rendered and kept first. Now nothing is rendered before
// Run starts serving, and what is kept is bounded by bytes, however many
// channels readers ask for: the live heap grows by less than the cache's
// bound.
func TestThousandChannels(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "agg.db")
	db, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := "<p>" + strings.Repeat("한반도 뉴스 본문 text of a story. ", 30) + "</p>"
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "server: { base_url: \"http://aggregator.test\" }\nstorage: { path: %q }\nsources:\n", dbPath)
	for s := range 10 {
		id := fmt.Sprintf("s%d", s)
		var items []feed.Item
		for i := range 30 {
			link := fmt.Sprintf("https://%s.example/%d", id, i)
			items = append(items, feed.Item{Key: "id:" + link, ID: link, Link: link, Title: fmt.Sprintf("Story %d of %s", i, id),
				Content: body, Published: start.Add(time.Duration(i*10+s) * time.Minute), Dated: true})
		}
		if _, err := db.SavePoll(context.Background(), id, items, feed.SourceState{SourceID: id}); err != nil {
			t.Fatal(err)
		}
		// Disabled: not polled, their stored items still published.
		fmt.Fprintf(&cfg, "  - { id: %s, url: \"https://%s.example/feed\", tags: [all], disabled: true }\n", id, id)
	}
	db.Close()
	cfg.WriteString("channels:\n")
	for c := range 1000 {
		fmt.Fprintf(&cfg, "  - { id: c%d, title: \"Channel %d\", tags: [all], limit: 50 }\n", c, c)
	}
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	before, start0 := liveHeap(), time.Now()
	r := startApp(t, path)
	base, logs := r.base, r.logs
	atStart := liveHeap() - before
	t.Logf("live heap when Run serves: +%.1f MiB (%v)", atStart, time.Since(start0))
	if atStart > 32 {
		t.Errorf("the live heap grew by %.1f MiB before Run served: channels are rendered ahead of requests", atStart)
	}
	apptest.WaitForItems(t, base, "c0", 50)
	// 300 channels' documents are about 100 MB rendered: over the bound.
	for c := range 300 {
		resp, body := apptest.Get(t, fmt.Sprintf("%s/feeds/c%d.atom", base, c))
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Story 29 of s9") {
			t.Fatalf("c%d.atom: %d", c, resp.StatusCode)
		}
	}
	all := liveHeap() - before
	t.Logf("live heap after one request of 300 channels: +%.1f MiB (%v)", all, time.Since(start0))
	if all > 64+32 { // publish.DefaultMaxBytes, and room for the rest
		t.Errorf("the live heap grew by %.1f MiB after 300 channels were asked for once: rendered documents are not bounded", all)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}
