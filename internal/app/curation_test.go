//go:build unix

package app

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/feed"
)

// jsonFeedDoc is what the curation test reads of a JSON Feed document.
type jsonFeedDoc struct {
	NextURL string `json:"next_url"`
	Items   []struct {
		URL           string    `json:"url"`
		Title         string    `json:"title"`
		ContentHTML   string    `json:"content_html"`
		Summary       string    `json:"summary"`
		DatePublished time.Time `json:"date_published"`
		Tags          []string  `json:"tags"`
		Language      string    `json:"language"`
		Source        *struct {
			ID   string `json:"id"`
			Also []struct {
				Title string `json:"title"`
			} `json:"also"`
		} `json:"_source"`
	} `json:"items"`
}

// curated is one channel with every curation key over real corpus feeds:
// the items chosen for the rules, and what the test saw served.
type curated struct {
	base       string
	hiddenLink string   // channel hide by link (tongilnews)
	hiddenID   string   // channel hide by upstream id (hani)
	sourceHide string   // hani's own hide, of a story politics also carries
	hiddenText []string // titles of the hidden items, for searches
	pinned     string   // an item older than max_age, pinned
	cutoff     time.Time
	limit      int // tongilnews' per-source limit
}

// pick returns the first item of f (newest first as the feed lists them)
// that ok accepts.
func pick(t *testing.T, f *gofeed.Feed, what string, ok func(*gofeed.Item) bool) *gofeed.Item {
	t.Helper()
	for _, it := range f.Items {
		if ok(it) {
			return it
		}
	}
	t.Fatalf("no item for %s in %s", what, f.Title)
	return nil
}

func parseCorpus(t *testing.T, rel string) *gofeed.Feed {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(apptest.CorpusDir(t), "real", rel))
	if err != nil {
		t.Fatal(err)
	}
	f, err := gofeed.NewParser().ParseString(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var excludedText = regexp.MustCompile(`대통령`)

// TestCurationEverywhere is issue 11's "done when": one channel with every
// curation key (hide by link and by id, a source-level hide, include and
// exclude by keyword and by regexp, languages, max_age, a per-source
// limit, a pin) over real corpus feeds with page_size 10. Every output the
// server has is walked (the subscription documents in three formats, every
// archive page in three formats, every HTML page, search with and without
// the channel filter, item pages): nothing hidden or excluded anywhere, no
// item twice across the HTML pages, and the HTML pages list exactly the
// channel's members in the documents' order. Then a reload hides one more
// item, which is gone from every URL served before within 5 seconds.
func TestCurationEverywhere(t *testing.T) {
	corpus := apptest.CorpusDir(t)
	tong, hani, pol := parseCorpus(t, "knews-rss/publishers/tongilnews.xml"), parseCorpus(t, "knews-rss/publishers/hani.xml"),
		parseCorpus(t, "knews-rss/categories/politics.xml")
	c := curated{cutoff: time.Date(2022, 7, 15, 0, 0, 0, 0, time.UTC), limit: 12}
	fresh := func(it *gofeed.Item) bool {
		return it.PublishedParsed != nil && it.PublishedParsed.After(c.cutoff.Add(24*time.Hour)) &&
			!excludedText.MatchString(it.Title+it.Description+it.Content) && !strings.HasPrefix(it.Title, "[포토]")
	}
	inPolitics := map[string]bool{}
	for _, it := range pol.Items {
		inPolitics[feed.LinkKey(it.Link)] = true
	}
	byLink := pick(t, tong, "a hide by link", fresh)
	byID := pick(t, hani, "a hide by id", func(it *gofeed.Item) bool {
		return fresh(it) && it.GUID != "" && !inPolitics[feed.LinkKey(it.Link)]
	})
	atSource := pick(t, hani, "a source-level hide of a merged story", func(it *gofeed.Item) bool {
		return fresh(it) && inPolitics[feed.LinkKey(it.Link)]
	})
	c.hiddenLink, c.hiddenID, c.sourceHide = byLink.Link, byID.GUID, atSource.Link
	c.hiddenText = []string{byLink.Title, byID.Title, atSource.Title}
	c.pinned = pick(t, hani, "a pin older than max_age", func(it *gofeed.Item) bool {
		return it.PublishedParsed != nil && it.PublishedParsed.Before(c.cutoff.Add(-48*time.Hour))
	}).Link
	maxAge := int(time.Since(c.cutoff).Hours()/24) + 1
	c.cutoff = time.Now().Add(-time.Duration(maxAge) * 24 * time.Hour)

	c.base = "http://aggregator.test"
	origin := apptest.Serve(t, http.FileServer(http.Dir(filepath.Join(corpus, "real"))))
	dir := t.TempDir()
	head := fmt.Sprintf(`server: { base_url: %q }
storage: { path: %q }
fetch: { interval: 1h, timeout: 10s, allow_private_networks: true, host_gap: 0s }
publish: { page_size: 10 }
sources:
  - { id: tong, title: "Tongil News", url: %q, limit: %d }
  - { id: hani, title: "Hankyoreh", url: %q, hide: [%q] }
  - { id: pol, title: "Politics", url: %q }
  - { id: cre, title: "CRE (German)", url: %q }
channels:
  - id: curated
    title: Curated
    sources: [tong, hani, pol, cre]
    limit: 30
    include: ['/\p{Hangul}/', the]
    exclude: [대통령, { title: '/^\[포토\]/' }]
    languages: [ko]
    max_age: %dd
    pin: [%q]
`, c.base, filepath.Join(dir, "agg.db"), origin+"/knews-rss/publishers/tongilnews.xml", c.limit,
		origin+"/knews-rss/publishers/hani.xml", c.sourceHide, origin+"/knews-rss/categories/politics.xml",
		origin+"/feedjira/CRE.xml", maxAge, c.pinned)
	hides := fmt.Sprintf("    hide: [%q, %q]\n", c.hiddenLink, c.hiddenID)
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(head+hides), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := startApp(t, path).logs
	apptest.Eventually(t, "the first polls", func() bool { return strings.Count(logs.String(), "msg=poll ") >= 4 })
	// The channel is built, and the search index caught up, once nothing
	// changes for a second: nothing is polled again for an hour.
	settled(t, c.base)

	served := c.walk(t)
	if len(served.members) < 40 {
		t.Fatalf("only %d members: the rules leave too little to test", len(served.members))
	}

	// A reload hides one more: the newest item that is not pinned, which
	// the documents, page 1 and an archive page show.
	y := served.html[served.pinned]
	before, _ := apptest.Get(t, c.base+"/feeds/curated.atom")
	lastModified := before.Header.Get("Last-Modified")
	apptest.SaveLikeAnEditor(t, path, head+fmt.Sprintf("    hide: [%q, %q, %q]\n", c.hiddenLink, c.hiddenID, y.link))
	apptest.Eventually(t, "the reload", func() bool { return strings.Contains(logs.String(), "config reloaded") })
	deadline := time.Now().Add(5 * time.Second)
	for _, u := range served.urls {
		want := 200
		if strings.HasSuffix(u, "/items/"+y.ref) {
			want = 410 // withdrawn: published nowhere any more
		}
		for {
			resp, body := apptest.Get(t, u)
			if resp.StatusCode == want && !strings.Contains(string(body), y.link) && !strings.Contains(html.UnescapeString(string(body)), y.link) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("5 s after the reload, %s still serves the hidden %s (status %d)", u, y.link, resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Validators: a client that sends only If-Modified-Since sees the change.
	if resp, _ := apptest.Get(t, c.base+"/feeds/curated.atom", "If-Modified-Since", lastModified); resp.StatusCode != 200 {
		t.Errorf("after the hide, If-Modified-Since %s: %d, want 200 (Last-Modified %s)", lastModified, resp.StatusCode, resp.Header.Get("Last-Modified"))
	}
	c.walk(t) // and every rule still holds everywhere
}

// settled waits until the channel's subscription document, its open
// archive page and its search results have not changed for a second.
func settled(t *testing.T, base string) {
	t.Helper()
	state := func() string {
		resp, body := apptest.Get(t, base+"/feeds/curated.json")
		var doc jsonFeedDoc
		if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || doc.NextURL == "" {
			return ""
		}
		open, _ := apptest.Get(t, doc.NextURL)
		_, search := apptest.Get(t, base+"/search?channel=curated&format=json")
		var r struct{ Total, Index int }
		json.Unmarshal(search, &r)
		return fmt.Sprintf("%s %s %d %d", resp.Header.Get("ETag"), open.Header.Get("ETag"), r.Total, r.Index)
	}
	last, since := "", time.Now()
	apptest.Eventually(t, "the channel settled", func() bool {
		s := state()
		if s == "" || s != last || strings.HasSuffix(s, " 0 0") {
			last, since = s, time.Now()
			return false
		}
		return time.Since(since) > time.Second
	})
}

// shownItem is one item as an HTML page lists it.
type shownItem struct {
	link, ref, title string
}

var (
	articleRE = regexp.MustCompile(`(?s)<article class="item(?: pinned)?">.*?</article>`)
	titleRE   = regexp.MustCompile(`(?s)<h3>(?:<a href="([^"]*)">)?(.*?)(?:</a>)?</h3>`)
	refRE     = regexp.MustCompile(`href="/items/([^"]+)"`)
)

// walked is what one walk of every output saw.
type walked struct {
	urls    []string // every URL fetched
	members map[string]bool
	html    []shownItem
	pinned  int
}

// walk fetches every output of the channel and checks the rules on each.
func (c curated) walk(t *testing.T) walked {
	t.Helper()
	w := walked{members: map[string]bool{}}
	fetch := func(u string) []byte {
		t.Helper()
		resp, body := apptest.Get(t, u)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %.200s", u, resp.StatusCode, body)
		}
		w.urls = append(w.urls, u)
		for _, bad := range []string{c.hiddenLink, c.hiddenID, c.sourceHide} {
			if strings.Contains(string(body), bad) || strings.Contains(html.UnescapeString(string(body)), bad) {
				t.Errorf("%s serves the hidden %s", u, bad)
			}
		}
		return body
	}
	titles := map[string]string{"Tongil News": "tong", "Hankyoreh": "hani", "Politics": "pol", "CRE (German)": "cre"}
	onlyTong := 0
	check := func(u string, doc jsonFeedDoc) {
		for _, it := range doc.Items {
			text := it.Title + it.ContentHTML + it.Summary + strings.Join(it.Tags, " ")
			switch {
			case excludedText.MatchString(text):
				t.Errorf("%s: %q is excluded by keyword", u, it.Title)
			case strings.HasPrefix(it.Title, "[포토]"):
				t.Errorf("%s: %q is excluded by regexp", u, it.Title)
			case it.Language != "" && !strings.HasPrefix(it.Language, "ko"):
				t.Errorf("%s: %q is in %s, not in languages [ko]", u, it.Title, it.Language)
			case it.URL != c.pinned && it.DatePublished.Before(c.cutoff):
				t.Errorf("%s: %q of %v is older than max_age", u, it.Title, it.DatePublished)
			}
		}
	}
	// The subscription documents and every archive page, in three formats.
	var subscription jsonFeedDoc
	json.Unmarshal(fetch(c.base+"/feeds/curated.json"), &subscription)
	fetch(c.base + "/feeds/curated.atom")
	fetch(c.base + "/feeds/curated.rss")
	check("subscription", subscription)
	if len(subscription.Items) == 0 || subscription.Items[0].URL != c.pinned {
		t.Errorf("the pinned item does not lead the subscription document")
	}
	pages := 0
	for next := subscription.NextURL; next != ""; pages++ {
		var page jsonFeedDoc
		json.Unmarshal(fetch(next), &page)
		for _, f := range []string{".atom", ".rss"} {
			fetch(strings.TrimSuffix(next, ".json") + f)
		}
		check(next, page)
		for _, it := range page.Items {
			if w.members[it.URL] {
				t.Errorf("%s is in two archive pages", it.URL)
			}
			w.members[it.URL] = true
			if it.Source != nil {
				carriers := map[string]bool{titles[it.Source.ID]: true, it.Source.ID: true}
				for _, a := range it.Source.Also {
					carriers[titles[a.Title]] = true
				}
				if carriers["tong"] && !carriers["hani"] && !carriers["pol"] && it.URL != c.pinned {
					onlyTong++
				}
			}
		}
		next = page.NextURL
	}
	if pages < 4 {
		t.Errorf("%d archive pages of 10 for %d members", pages, len(w.members))
	}
	if onlyTong > c.limit {
		t.Errorf("%d members carried by tong alone, more than its limit %d", onlyTong, c.limit)
	}

	// Every HTML page, through the links a reader follows.
	seen := map[string]bool{}
	for u := c.base + "/channels/curated"; u != ""; {
		body := string(fetch(u))
		for _, a := range articleRE.FindAllString(body, -1) {
			m, r := titleRE.FindStringSubmatch(a), refRE.FindStringSubmatch(a)
			if m == nil || r == nil {
				t.Fatalf("%s: an item without a title or a details link:\n%s", u, a)
			}
			it := shownItem{link: html.UnescapeString(m[1]), ref: r[1], title: html.UnescapeString(m[2])}
			if seen[it.link] {
				t.Errorf("%s shows %s a second time", u, it.link)
			}
			seen[it.link] = true
			w.html = append(w.html, it)
		}
		u = ""
		if i := strings.Index(body, `" rel="next"`); i >= 0 {
			j := strings.LastIndex(body[:i], `href="`)
			u = c.base + html.UnescapeString(body[j+len(`href="`):i])
		}
	}
	if len(w.html) != len(w.members) {
		t.Errorf("HTML pages show %d items, the archive %d", len(w.html), len(w.members))
	}
	for _, it := range w.html {
		if !w.members[it.link] {
			t.Errorf("HTML shows %s, which no archive page lists", it.link)
		}
	}
	for i, it := range subscription.Items {
		if i >= len(w.html) || w.html[i].link != it.URL {
			t.Errorf("HTML item %d is not the subscription document's (%s)", i, it.URL)
			break
		}
		if it.URL == c.pinned {
			w.pinned = i + 1
		}
	}

	// Item pages: every member's, and none of the hidden ones.
	for _, it := range w.html {
		if body := fetch(c.base + "/items/" + it.ref); !strings.Contains(string(body), "Return to Curated") {
			t.Errorf("item page of %s does not link its channel", it.link)
		}
	}
	for _, src := range []string{"hani", "pol"} {
		for _, k := range []string{feed.Identity("", c.sourceHide, "", ""), feed.Identity(c.sourceHide, "", "", "")} {
			if resp, _ := apptest.Get(t, c.base+"/items/"+feed.ItemRef(src, k)); resp.StatusCode != 404 && resp.StatusCode != 410 {
				// 410 for a stored item withdrawn, 404 for a key no item has.
				t.Errorf("item page of %s (%s/%s), hidden at the source: %d, want 410 or 404", c.sourceHide, src, k, resp.StatusCode)
			}
		}
	}

	// Search, in the channel and everywhere: members only.
	for _, q := range []string{"", "북한", "통일"} {
		for _, filter := range []string{"channel=curated&", ""} {
			u := c.base + "/search?" + filter + "format=json&q=" + url.QueryEscape(q)
			if q == "" && filter == "" {
				continue
			}
			var r struct {
				Total   int
				Results []struct{ Link string }
			}
			json.Unmarshal(fetch(u), &r)
			for _, res := range r.Results {
				if !w.members[res.Link] {
					t.Errorf("%s finds %s, which the channel does not show", u, res.Link)
				}
			}
		}
	}
	for _, title := range c.hiddenText {
		for _, filter := range []string{"channel=curated&", ""} {
			_, body := apptest.Get(t, c.base+"/search?"+filter+"format=json&q="+url.QueryEscape(title))
			var r struct{ Results []struct{ Title string } }
			json.Unmarshal(body, &r)
			for _, res := range r.Results {
				if res.Title == title {
					t.Errorf("search (%s) finds the hidden %q", filter, title)
				}
			}
		}
	}
	slices.Sort(w.urls)
	w.urls = slices.Compact(w.urls)
	return w
}
