package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
)

// listingPath is where the listing origin serves a think tank's
// "Analysis" listing (the pages of internal/scrape/testdata, made like
// CSIS's).
const listingPath = "/programs/korea-chair/analysis"

func newListingOrigin(t *testing.T) (*apptest.Page, string) {
	t.Helper()
	p := apptest.NewPage(listingPath, "text/html; charset=utf-8", scrapePage(t, "csis-korea-chair-analysis.html"))
	return p, apptest.Serve(t, p)
}

func scrapePage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "scrape", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scrapeConfig writes a feeds.yaml with the listing as a scraped source
// polled every second, in channel "korea"; scrape replaces the default
// selectors.
func scrapeConfig(t *testing.T, originURL, scrape string) string {
	t.Helper()
	if scrape == "" {
		scrape = `      item: "div.views-row"
      title: "h3 a"
      link: "h3 a@href"
      date: "time@datetime"
      summary: ".teaser__summary"
      author: ".contributors a"`
	}
	return writeFile(t, fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s, contact: "ops@kpolicy.example" }
sources:
  - id: csis-korea-chair
    url: %q
    interval: 1s
    scrape:
%s
channels:
  - { id: korea, title: Korea, sources: [csis-korea-chair] }
`, filepath.Join(t.TempDir(), "aggregator.db"), originURL+listingPath, scrape))
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
	_, body := apptest.Get(t, base+"/feeds/korea.json")
	var doc struct{ Items []jsonFeedItem }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return doc.Items
}

// TestScrapedListing polls a listing through the real poller into a real
// store and publishes it in a channel; then the site is redesigned and the
// item selector matches nothing: the poll fails naming the selector, and
// the four items stay published.
func TestScrapedListing(t *testing.T) {
	o, originURL := newListingOrigin(t)
	base := startApp(t, scrapeConfig(t, originURL, "")).base
	apptest.WaitForItems(t, base, "korea", 4)

	items := channelItems(t, base)
	first := items[0]
	if first.Title != "North Korea’s New Solid-Fuel Missile: What It Means for Deterrence" ||
		first.URL != originURL+"/analysis/north-koreas-new-solid-fuel-missile-what-it-means" ||
		!strings.HasPrefix(first.DatePublished, "2024-03-15T12:00:00") ||
		len(first.Authors) != 2 || first.Authors[0].Name != "Victor D. Cha" || first.Authors[1].Name != "Andy Lim" {
		t.Errorf("first item %+v", first)
	}
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}

	// The page is polled as a feed is: conditional GET, our User-Agent.
	apptest.Eventually(t, "a conditional poll", func() bool {
		for _, r := range o.Requests() {
			if r.Header.Get("If-None-Match") != "" {
				return true
			}
		}
		return false
	})
	for _, r := range o.Requests() {
		if want := "aggregator/" + Version() + " (+ops@kpolicy.example)"; r.UserAgent() != want {
			t.Errorf("User-Agent=%q, want %q", r.UserAgent(), want)
		}
		if got := r.Header.Get("Accept-Encoding"); got != "br, gzip" {
			t.Errorf("Accept-Encoding=%q", got)
		}
	}

	o.Serve(scrapePage(t, "csis-korea-chair-analysis-redesign.html"))
	want := `scrape csis-korea-chair: item selector "div.views-row" matched nothing on ` + originURL + listingPath
	var st struct {
		Sources []struct {
			ID        string `json:"id"`
			LastError string `json:"last_error"`
			Errors    int    `json:"consecutive_errors"`
			Items     int    `json:"items"`
		} `json:"sources"`
	}
	apptest.Eventually(t, "the poll to fail on the redesigned page", func() bool {
		_, body := apptest.Get(t, base+"/status?format=json")
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
// the time they were first seen, and keep it when later polls (of the
// poller NewPoller builds) parse the page again.
func TestScrapedUndatedItemsKeepFirstSeen(t *testing.T) {
	o, originURL := newListingOrigin(t)
	undated := func(n int) []byte {
		var b strings.Builder
		b.WriteString("<html><body><ul class=posts>")
		for i := n; i >= 1; i-- {
			fmt.Fprintf(&b, `<li class=post><a href="/posts/%d">Post %d</a></li>`, i, i)
		}
		return []byte(b.String())
	}
	o.Serve(undated(2))
	cfg, err := config.Load(scrapeConfig(t, originURL, `      item: "li.post"
      title: "a"
      link: "a@href"`))
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg)
	defer db.Close()
	poller := NewPoller(cfg, NewClient(cfg, apptest.Transport()), db, nil, nil)
	pollOnce := func() {
		t.Helper()
		if r := poller.PollAll(context.Background(), cfg.Sources)[0]; r.Err != nil {
			t.Fatalf("poll: %v", r.Err)
		}
	}
	published := func() map[string]time.Time {
		t.Helper()
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

	pollOnce()
	before := published()
	time.Sleep(20 * time.Millisecond)
	o.Serve(undated(3)) // a new post: the page is parsed again
	pollOnce()
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
