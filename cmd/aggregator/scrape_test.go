package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// listingOrigin serves a think tank's "Analysis" listing (the pages of
// internal/scrape/testdata, made like CSIS's) at /programs/korea-chair/analysis,
// with an ETag it honours, and records every request. redesign switches
// it to the redesigned page.
type listingOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	page     []byte
	requests []*http.Request
}

const listingPath = "/programs/korea-chair/analysis"

func newListingOrigin(t *testing.T) *listingOrigin {
	t.Helper()
	o := &listingOrigin{page: scrapePage(t, "csis-korea-chair-analysis.html")}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.requests = append(o.requests, r.Clone(context.Background()))
		page := o.page
		o.mu.Unlock()
		if r.URL.Path != listingPath {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"v%d"`, len(page))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *listingOrigin) serve(page []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.page = page
}

func (o *listingOrigin) seen() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.requests...)
}

func scrapePage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "scrape", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scrapeConfig writes a feeds.yaml with the listing as a scraped source
// polled every second, in channel "korea".
func scrapeConfig(t *testing.T, originURL string) (cfgPath, dbPath string) {
	t.Helper()
	dbPath = filepath.Join(t.TempDir(), "aggregator.db")
	cfg := fmt.Sprintf(`server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s, contact: "ops@kpolicy.example" }
sources:
  - id: csis-korea-chair
    url: %q
    interval: 1s
    scrape:
      item: "div.views-row"
      title: "h3 a"
      link: "h3 a@href"
      date: "time@datetime"
      summary: ".teaser__summary"
      author: ".contributors a"
channels:
  - { id: korea, title: Korea, sources: [csis-korea-chair] }
`, dbPath, originURL+listingPath)
	cfgPath = filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

type jsonFeedItem struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	Title         string `json:"title"`
	DatePublished string `json:"date_published"`
	Authors       []struct {
		Name string `json:"name"`
	} `json:"authors"`
}

func channelItems(t *testing.T, base string) []jsonFeedItem {
	t.Helper()
	_, body := get(t, base+"/feeds/korea.json")
	var doc struct{ Items []jsonFeedItem }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return doc.Items
}

// TestScrapedListingEndToEnd polls a listing through the real poller into
// a real store and publishes it in a channel; then the site is redesigned
// and the item selector matches nothing: the poll fails naming the
// selector, and the four items stay published.
func TestScrapedListingEndToEnd(t *testing.T) {
	o := newListingOrigin(t)
	cfg, _ := scrapeConfig(t, o.URL)
	base, stop := startServe(t, "-config", cfg)
	defer stop()
	waitForItems(t, base, "korea", 4)

	items := channelItems(t, base)
	first := items[0]
	if first.Title != "North Korea’s New Solid-Fuel Missile: What It Means for Deterrence" ||
		first.URL != o.URL+"/analysis/north-koreas-new-solid-fuel-missile-what-it-means" ||
		!strings.HasPrefix(first.DatePublished, "2024-03-15T12:00:00") ||
		len(first.Authors) != 2 || first.Authors[0].Name != "Victor D. Cha" || first.Authors[1].Name != "Andy Lim" {
		t.Errorf("first item %+v", first)
	}
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}

	// The page is polled as a feed is: conditional GET, our User-Agent.
	eventually(t, "a conditional poll", func() bool {
		for _, r := range o.seen() {
			if r.Header.Get("If-None-Match") != "" {
				return true
			}
		}
		return false
	})
	for _, r := range o.seen() {
		if want := "aggregator/" + version() + " (+ops@kpolicy.example)"; r.UserAgent() != want {
			t.Errorf("User-Agent=%q, want %q", r.UserAgent(), want)
		}
		if got := r.Header.Get("Accept-Encoding"); got != "br, gzip" {
			t.Errorf("Accept-Encoding=%q", got)
		}
	}

	o.serve(scrapePage(t, "csis-korea-chair-analysis-redesign.html"))
	want := `scrape csis-korea-chair: item selector "div.views-row" matched nothing on ` + o.URL + listingPath
	var st struct {
		Sources []struct {
			ID        string `json:"id"`
			LastError string `json:"last_error"`
			Errors    int    `json:"consecutive_errors"`
			Items     int    `json:"items"`
		} `json:"sources"`
	}
	eventually(t, "the poll to fail on the redesigned page", func() bool {
		_, body := get(t, base+"/status?format=json")
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		return len(st.Sources) == 1 && st.Sources[0].Errors > 0
	})
	if s := st.Sources[0]; !strings.Contains(s.LastError, want) || s.Items != 4 {
		t.Errorf("status: last_error %q, items %d; want %q and 4 items", s.LastError, s.Items, want)
	}
	var after []string
	for _, it := range channelItems(t, base) {
		after = append(after, it.Title)
	}
	if strings.Join(after, "\n") != strings.Join(titles, "\n") {
		t.Errorf("channel after the failed poll:\n%s\nwant the four items:\n%s", strings.Join(after, "\n"), strings.Join(titles, "\n"))
	}
}

// TestScrapedUndatedItemsKeepFirstSeen: items a page gives no date take
// the time they were first seen, and keep it when later polls parse the
// page again.
func TestScrapedUndatedItemsKeepFirstSeen(t *testing.T) {
	o := newListingOrigin(t)
	undated := func(n int) []byte {
		var b strings.Builder
		b.WriteString("<html><body><ul class=posts>")
		for i := n; i >= 1; i-- {
			fmt.Fprintf(&b, `<li class=post><a href="/posts/%d">Post %d</a></li>`, i, i)
		}
		return []byte(b.String())
	}
	o.serve(undated(2))
	cfg, dbPath := scrapeConfig(t, o.URL)
	b, _ := os.ReadFile(cfg)
	cfgText := strings.Replace(string(b), `      item: "div.views-row"
      title: "h3 a"
      link: "h3 a@href"
      date: "time@datetime"
      summary: ".teaser__summary"
      author: ".contributors a"`, `      item: "li.post"
      title: "a"
      link: "a@href"`, 1)
	os.WriteFile(cfg, []byte(cfgText), 0o644)

	fetchOnce := func() {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr); err != nil {
			t.Fatalf("fetch: %v\n%s%s", err, stdout.String(), stderr.String())
		}
	}
	published := func() map[string]time.Time {
		t.Helper()
		db, err := bolt.Open(dbPath, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		items, err := db.ItemsAfter(context.Background(), []string{"csis-korea-chair"}, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, it := range items {
			if it.Dated || !it.Published.Equal(it.FirstSeen) {
				t.Errorf("%s: dated=%v published=%v first seen=%v, want undated, published when first seen", it.Title, it.Dated, it.Published, it.FirstSeen)
			}
			out[it.Title] = it.Published
		}
		return out
	}

	fetchOnce()
	before := published()
	time.Sleep(20 * time.Millisecond)
	o.serve(undated(3)) // a new post: the page is parsed again
	fetchOnce()
	after := published()
	if len(before) != 2 || len(after) != 3 {
		t.Fatalf("items %v then %v, want 2 then 3", before, after)
	}
	for title, t0 := range before {
		if !after[title].Equal(t0) {
			t.Errorf("%s: published %v on the first poll, %v on the second", title, t0, after[title])
		}
	}
	if !after["Post 3"].After(before["Post 2"]) {
		t.Errorf("the new post is dated %v, not after the first poll (%v)", after["Post 3"], before["Post 2"])
	}
}

func TestPreviewSource(t *testing.T) {
	o := newListingOrigin(t)
	cfg, dbPath := scrapeConfig(t, o.URL)
	preview := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"preview-source"}, args...), noenv, &stdout, &stderr)
		return stdout.String(), err
	}

	out, err := preview("csis-korea-chair", "-config", cfg)
	if err != nil {
		t.Fatalf("err=%v\n%s", err, out)
	}
	for _, want := range []string{
		"fetched " + o.URL + listingPath + ": 200, 6,821 bytes, text/html; charset=utf-8\n",
		`page "Analysis | Korea Chair | CSIS" (html, en): 4 items`,
		"\n1. North Korea’s New Solid-Fuel Missile: What It Means for Deterrence\n" +
			"   link:    " + o.URL + "/analysis/north-koreas-new-solid-fuel-missile-what-it-means\n" +
			"   date:    2024-03-15 12:00 UTC\n" +
			"   author:  Victor D. Cha, Andy Lim\n" +
			"   summary: Pyongyang’s test of a solid-fuel intermediate-range missile shortens warning times across the region. Read the findings.\n",
		"\n4. Sanctions Enforcement after the Panel of Experts\n",
		"\nproblems: none\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preview-source touched the database: %v", err)
	}

	o.serve([]byte(`<html><body><div class="views-row"><h3><a href="/a">A</a></h3></div><div class="views-row"><h3>no link</h3></div>`))
	out, err = preview("-config", cfg, "csis-korea-chair")
	if err != nil || !strings.Contains(out, "\n1. A\n   link:    "+o.URL+"/a\n   date:    no date: first-seen time\n") ||
		!strings.Contains(out, "problems:\n  1 of 2 items skipped: title selector \"h3 a\" found no text in 1\n  date selector \"time@datetime\" found nothing in 1 of 1 items: dated by first-seen time\n") {
		t.Errorf("err=%v\n%s", err, out)
	}

	o.serve(scrapePage(t, "csis-korea-chair-analysis-redesign.html"))
	out, err = preview("csis-korea-chair", "-config", cfg)
	if !errors.Is(err, errReported) || !strings.Contains(out, "problems:\n  scrape csis-korea-chair: item selector \"div.views-row\" matched nothing on "+o.URL+listingPath+"\n") {
		t.Errorf("redesigned page: err=%v\n%s", err, out)
	}

	if _, err := preview("-config", cfg); exitCode(err) != 2 {
		t.Errorf("no SOURCE: err=%v, want exit status 2", err)
	}
	if _, err := preview("nope", "-config", cfg); exitCode(err) != 2 || !strings.Contains(err.Error(), "(sources: csis-korea-chair)") {
		t.Errorf("unknown SOURCE: err=%v", err)
	}
}
