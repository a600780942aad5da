package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// heapPeak samples the heap until stop is called and returns the highest
// HeapAlloc seen, in MiB.
func heapPeak() (stop func() float64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}

// TestAbsurdInput polls feeds that are valid but absurd and checks that
// each is stored within the caps (or rejected with a reason), that memory
// stays bounded, and that the channel still renders.
func TestAbsurdInput(t *testing.T) {
	rss := func(items string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>absurd</title><link>http://absurd.example/</link><description>d</description>` + items + `</channel></rss>`
	}
	// 45,000 items take gofeed seconds to parse (its date parser), more
	// under the race detector: CI parses 20,000, still twice the cap. Four
	// elements an item, 45,000 is about as many as parse.MaxElements lets
	// through; more are refused unread (internal/parse's bounds tests).
	nItems := 20_000
	if os.Getenv("AGGREGATOR_LONG") == "1" {
		nItems = 45_000
	}
	var manyItems, manyCats strings.Builder
	for i := range nItems {
		fmt.Fprintf(&manyItems, "<item><guid isPermaLink=\"false\">n-%d</guid><title>Item %d</title><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>", i, i)
	}
	for i := range 10_000 {
		fmt.Fprintf(&manyCats, "<category>category %d</category>", i)
	}
	cases := []struct {
		name, body   string
		check        func(t *testing.T, items []feed.Item, err error)
		notPublished []string // in the channel's Atom, RSS and JSON Feed
	}{
		{"5 MB title", rss("<item><guid>big</guid><title>" + strings.Repeat("북한 ", 5<<20/7) + "</title></item>"),
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 1 || len(items[0].Title) > parse.MaxTitleBytes {
					t.Errorf("err=%v items=%d, want the item stored with a title of at most %d bytes", err, len(items), parse.MaxTitleBytes)
				}
			}, nil},
		{fmt.Sprintf("%d items", nItems), rss(manyItems.String()),
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != parse.MaxItemsPerFeed {
					t.Errorf("err=%v items=%d, want the first %d stored", err, len(items), parse.MaxItemsPerFeed)
				}
			}, nil},
		{"10,000 categories", rss("<item><guid>cats</guid><title>t</title>" + manyCats.String() + "</item>"),
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 1 || len(items[0].Categories) != parse.MaxCategories {
					t.Errorf("err=%v items=%d, want one item with %d categories", err, len(items), parse.MaxCategories)
				}
			}, nil},
		{"years 1 and 9999", `<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title><updated>9999-12-31T23:59:59Z</updated>
<entry><id>urn:old</id><title>old</title><updated>0001-06-01T00:00:00Z</updated></entry>
<entry><id>urn:far</id><title>far</title><updated>9999-12-31T23:59:59Z</updated></entry></feed>`,
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 2 {
					t.Fatalf("err=%v items=%d, want both stored", err, len(items))
				}
				for _, it := range items {
					if it.Published.After(time.Now().Add(time.Hour)) || it.Updated.After(time.Now().Add(time.Hour)) {
						t.Errorf("%s: dated %v / %v: a future date is clamped to now", it.Key, it.Published, it.Updated)
					}
				}
			}, nil},
		{"year 0000", `<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title><updated>0000-01-01T00:00:00Z</updated>
<entry><id>urn:zero</id><title>zero</title><published>0000-01-01T00:00:00Z</published><updated>0000-00-00T00:00:00Z</updated></entry></feed>`,
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 1 {
					t.Fatalf("err=%v items=%d, want the item stored", err, len(items))
				}
				if it := items[0]; it.Dated || it.Published.Year() < 2000 || it.Updated.Year() < 2000 {
					t.Errorf("dated %v, published %v, updated %v: year 0000 is no date (the item takes the time it was first seen)", it.Dated, it.Published, it.Updated)
				}
			}, []string{"0001-", "0000-"}},
		{"year 0000 in RSS", rss(`<item><guid>zero</guid><title>zero</title><pubDate>Sat, 01 Jan 0000 00:00:00 GMT</pubDate></item>`),
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 1 {
					t.Fatalf("err=%v items=%d, want the item stored", err, len(items))
				}
				if it := items[0]; it.Dated || it.Published.Year() < 2000 {
					t.Errorf("dated %v, published %v: year 0000 is no date", it.Dated, it.Published)
				}
			}, []string{"0001-", "0000-", " 0001 ", " 0000 "}},
		{"empty feed", rss(""), func(t *testing.T, items []feed.Item, err error) {
			if err != nil || len(items) != 0 {
				t.Errorf("err=%v items=%d, want a successful poll with nothing", err, len(items))
			}
		}, nil},
		{"empty items", rss("<item></item><item><title></title><link></link><description></description><guid></guid></item><item><title> </title></item>"),
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 0 {
					t.Errorf("err=%v items=%d, want items that say nothing dropped", err, len(items))
				}
			}, nil},
		{"empty JSON Feed", `{"version":"https://jsonfeed.org/version/1.1","title":"","items":[{"id":"","title":"","content_text":""},{}]}`,
			func(t *testing.T, items []feed.Item, err error) {
				if err != nil || len(items) != 0 {
					t.Errorf("err=%v items=%d, want nothing", err, len(items))
				}
			}, nil},
		{"empty body", "", func(t *testing.T, items []feed.Item, err error) {
			if err == nil || !strings.Contains(err.Error(), "empty body") {
				t.Errorf("err=%v, want a rejection naming the empty body", err)
			}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(tc.body))
			}))
			defer origin.Close()
			cfg := config.Default()
			cfg.Fetch.AllowPrivateNetworks = true
			cfg.Fetch.MaxBody = 64 << 20
			cfg.Fetch.Timeout = time.Minute
			cfg.Sources = []feed.Source{{ID: "absurd", URL: origin.URL, Interval: time.Hour}}
			cfg.Channels = []feed.Channel{{ID: "c", Title: "C", Sources: []string{"absurd"}, Limit: 1000}}
			db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			runtime.GC()
			stop := heapPeak()
			start := time.Now()
			res := app.NewPoller(cfg, app.NewClient(cfg, nil), db, nil, nil).PollAll(context.Background(), cfg.Sources)[0]
			cache := publishStore(t, db, cfg)
			jsonDoc, atomDoc := cache.Doc(t, "c", publish.JSON), cache.Doc(t, "c", publish.Atom)
			elapsed, peak := time.Since(start), stop()
			items, err := db.ItemsAfter(context.Background(), []string{"absurd"}, nil, 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, items, res.Err)
			if res.Err != nil {
				st, err := db.State(context.Background(), "absurd")
				if err != nil || st.LastError == "" {
					t.Errorf("rejected without a recorded reason: state %+v, %v", st, err)
				}
			}
			var doc struct{ Items []json.RawMessage }
			if err := json.Unmarshal(jsonDoc.Body, &doc); err != nil {
				t.Errorf("JSON Feed: %v", err)
			}
			for _, f := range []publish.Format{publish.Atom, publish.RSS, publish.JSON} {
				for _, s := range tc.notPublished {
					if body := cache.Doc(t, "c", f).Body; strings.Contains(string(body), s) {
						t.Errorf("%v document holds %q:\n%s", f, s, body)
					}
				}
			}
			t.Logf("%.1f MB body: %d stored, err=%v; %s, heap peak %.0f MiB, channel %d items, Atom %d KB",
				float64(len(tc.body))/1e6, len(items), res.Err, elapsed.Round(time.Millisecond), peak, len(doc.Items), len(atomDoc.Body)>>10)
			// gofeed holds the whole document and its parse tree: allow
			// a generous multiple of the 64 MB body limit, no more.
			if peak > 1024 {
				t.Errorf("heap peak %.0f MiB", peak)
			}
		})
	}
}
