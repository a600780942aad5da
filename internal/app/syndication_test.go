package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// growingOrigin serves an RSS feed of n items, n set by the test, and
// records when it first served each n.
type growingOrigin struct {
	URL    string
	n      atomic.Int64
	mu     sync.Mutex
	served map[int64]time.Time
}

func newGrowingOrigin(t *testing.T, n int64) *growingOrigin {
	o := &growingOrigin{served: map[int64]time.Time{}}
	o.n.Store(n)
	o.URL = apptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.n.Load()
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Growing</title><link>https://growing.example/</link><description>d</description>`)
		for i := n; i >= 1; i-- {
			fmt.Fprintf(&b, `<item><title>Story %d</title><link>https://growing.example/%d</link><guid>https://growing.example/%d</guid><description>Text %d</description><pubDate>%s</pubDate></item>`,
				i, i, i, i, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
		}
		b.WriteString(`</channel></rss>`)
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, b.String())
		o.mu.Lock()
		if _, ok := o.served[n]; !ok {
			o.served[n] = time.Now()
		}
		o.mu.Unlock()
	}))
	return o
}

func (o *growingOrigin) servedAt(n int64) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.served[n]
}

// startGrowing runs serve over a growing origin polled every second, with
// archive pages of 10 items, and returns the server's base URL.
func startGrowing(t *testing.T, originURL string) string {
	cfg := fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1s, timeout: 5s, allow_private_networks: true }
publish: { max_age: 1m, page_size: 10 }
sources:
  - { id: growing, url: %q, interval: 1s }
channels:
  - { id: news, title: News, sources: [growing], limit: 15 }
`, filepath.Join(t.TempDir(), "db", "aggregator.db"), originURL+"/feed.rss")
	return startApp(t, writeFile(t, cfg)).base
}

// atomDoc is what the tests read of an Atom document.
type atomDoc struct {
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Archive *struct{} `xml:"http://purl.org/syndication/history/1.0 archive"`
	Entries []struct {
		ID string `xml:"id"`
	} `xml:"entry"`
}

func (d atomDoc) link(rel string) string {
	for _, l := range d.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func getAtom(t *testing.T, u string) (atomDoc, *http.Response, []byte) {
	t.Helper()
	resp, body := apptest.Get(t, u)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	var d atomDoc
	if err := xml.Unmarshal(body, &d); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return d, resp, body
}

// walkArchive follows prev-archive from the subscription document and
// returns every entry id seen in the archive pages, and each page's bytes.
func walkArchive(t *testing.T, base string) (ids []string, pages map[string][]byte, etags map[string]string) {
	t.Helper()
	pages, etags = map[string][]byte{}, map[string]string{}
	doc, _, _ := getAtom(t, base+"/feeds/news.atom")
	next := doc.link("prev-archive")
	for next != "" {
		if len(pages) > 100 {
			t.Fatal("prev-archive does not end")
		}
		page, resp, body := getAtom(t, next)
		pages[next], etags[next] = body, resp.Header.Get("ETag")
		if page.link("current") != base+"/feeds/news.atom" {
			t.Errorf("%s: current = %q", next, page.link("current"))
		}
		for _, e := range page.Entries {
			ids = append(ids, e.ID)
		}
		next = page.link("prev-archive")
	}
	return ids, pages, etags
}

func checkExactlyOnce(t *testing.T, ids []string, n int) {
	t.Helper()
	count := map[string]int{}
	for _, id := range ids {
		count[id]++
	}
	for i := 1; i <= n; i++ {
		if id := fmt.Sprintf("https://growing.example/%d", i); count[id] != 1 {
			t.Errorf("item %d appears %d times in the archive", i, count[id])
		}
	}
	if len(ids) != n {
		t.Errorf("archive holds %d entries, want %d", len(ids), n)
	}
}

// TestArchiveWalk polls a growing feed and walks the channel's RFC 5005
// archive: every item exactly once, and full pages byte-for-byte stable
// across later polls that only add items.
func TestArchiveWalk(t *testing.T) {
	o := newGrowingOrigin(t, 25)
	base := startGrowing(t, o.URL)
	apptest.WaitForItems(t, base, "news", 15)
	waitForArchive(t, base, 25)
	ids, pages, etags := walkArchive(t, base)
	checkExactlyOnce(t, ids, 25)
	if got := len(pages); got != 3 {
		t.Errorf("pages = %d, want 3 (10 + 10 + 5)", got)
	}

	o.n.Store(52)
	waitForArchive(t, base, 52)
	ids, after, afterTags := walkArchive(t, base)
	checkExactlyOnce(t, ids, 52)
	for _, p := range []string{"1", "2"} {
		u := base + "/feeds/news/archive/" + p + ".atom"
		if string(after[u]) != string(pages[u]) || afterTags[u] != etags[u] {
			t.Errorf("full page %s changed after more polls", u)
		}
		// Stable, but never promised immutable: a hide could change it
		// (issue 11). Its max-age is the subscription document's.
		doc, resp, _ := getAtom(t, u)
		if cc := resp.Header.Get("Cache-Control"); doc.Archive == nil || strings.Contains(cc, "immutable") || !strings.HasPrefix(cc, "public, max-age=") {
			t.Errorf("%s: fh:archive %v, Cache-Control %q", u, doc.Archive != nil, cc)
		}
	}
	open := base + "/feeds/news/archive/6.atom"
	if doc, resp, _ := getAtom(t, open); doc.Archive != nil || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || len(doc.Entries) != 2 {
		t.Errorf("open page: fh:archive %v, Cache-Control %q, %d entries", doc.Archive != nil, resp.Header.Get("Cache-Control"), len(doc.Entries))
	}
	// JSON Feed walks the same pages with next_url.
	resp, body := apptest.Get(t, base+"/feeds/news.json")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"next_url": "`+base+`/feeds/news/archive/6.json"`) {
		t.Errorf("JSON subscription document has no next_url to the open page:\n%.400s", body)
	}
}

// waitForArchive waits until the subscription document's prev-archive
// page number says n items are stored.
func waitForArchive(t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf("%s/feeds/news/archive/%d.atom", base, n/10+1)
	deadline := time.Now().Add(15 * time.Second)
	for {
		doc, _, _ := getAtom(t, base+"/feeds/news.atom")
		if doc.link("prev-archive") == want {
			if page, _, _ := getAtom(t, want); len(page.Entries) == n%10 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no archive of %d items by the deadline (prev-archive %q)", n, doc.link("prev-archive"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subscriber is a WebSub subscriber (WebSub §5–7): it confirms the
// requests it made, and records the verified modes and the deliveries.
type subscriber struct {
	URL      string
	secret   string
	mu       sync.Mutex
	verified []url.Values
	posts    chan delivery
}

type delivery struct {
	at     time.Time
	body   []byte
	header http.Header
	sigOK  bool
}

func newSubscriber(t *testing.T, secret string) *subscriber {
	s := &subscriber{secret: secret, posts: make(chan delivery, 16)}
	s.URL = apptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet: // verification of intent
			q := r.URL.Query()
			s.mu.Lock()
			s.verified = append(s.verified, q)
			s.mu.Unlock()
			io.WriteString(w, q.Get("hub.challenge"))
		case http.MethodPost: // content distribution
			body, _ := io.ReadAll(r.Body)
			m := hmac.New(sha256.New, []byte(s.secret))
			m.Write(body)
			sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
			s.posts <- delivery{at: time.Now(), body: body, header: r.Header.Clone(), sigOK: hmac.Equal([]byte(r.Header.Get("X-Hub-Signature")), []byte(sig))}
		}
	}))
	return s
}

func (s *subscriber) waitVerified(t *testing.T, mode string) url.Values {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, q := range s.verified {
			if q.Get("hub.mode") == mode {
				s.mu.Unlock()
				return q
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s verification", mode)
	return nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>;\s*rel="([^"]*)"`)

// links returns the targets of Link headers by rel.
func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, v := range h.Values("Link") {
		for _, m := range linkRE.FindAllStringSubmatch(v, -1) {
			out[m[2]] = m[1]
		}
	}
	return out
}

func subscribe(t *testing.T, hub, mode, topic, callback, secret string) {
	t.Helper()
	resp, err := apptest.Client().PostForm(hub, url.Values{
		"hub.mode": {mode}, "hub.topic": {topic}, "hub.callback": {callback},
		"hub.secret": {secret}, "hub.lease_seconds": {"3600"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s: status %d, want 202", mode, resp.StatusCode)
	}
}

// waitSubscriptions waits until the hub at base keeps n subscriptions, as
// its /metrics say.
func waitSubscriptions(t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf("\naggregator_websub_subscriptions %d\n", n)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body := apptest.Get(t, base+"/metrics")
		if strings.Contains(string(body), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub never kept %d subscriptions", n)
		}
	}
}

// TestWebSub runs a subscriber against the service: discovery from the
// Link headers and the document, subscription verified, signed delivery of
// the new document after the poll that found new items, and unsubscription.
func TestWebSub(t *testing.T) {
	o := newGrowingOrigin(t, 3)
	base := startGrowing(t, o.URL)
	apptest.WaitForItems(t, base, "news", 3)

	doc, resp, _ := getAtom(t, base+"/feeds/news.atom")
	hl := links(resp.Header)
	if hl["hub"] != base+"/websub" || hl["self"] != base+"/feeds/news.atom" {
		t.Fatalf("Link headers %q", resp.Header.Values("Link"))
	}
	if doc.link("hub") != hl["hub"] || doc.link("self") != hl["self"] {
		t.Fatalf("document links hub %q self %q disagree with the headers", doc.link("hub"), doc.link("self"))
	}
	topic, hub := hl["self"], hl["hub"]

	sub := newSubscriber(t, "s3cret")
	quiet := newSubscriber(t, "")
	subscribe(t, hub, "subscribe", topic, sub.URL+"/cb?x=1", sub.secret)
	subscribe(t, hub, "subscribe", topic, quiet.URL+"/cb", "")
	q := sub.waitVerified(t, "subscribe")
	if q.Get("hub.topic") != topic || q.Get("hub.lease_seconds") != "3600" || q.Get("x") != "1" {
		t.Errorf("verification query %v", q)
	}
	quiet.waitVerified(t, "subscribe")
	waitSubscriptions(t, base, 2) // stored right after the echo

	o.n.Store(5)
	var d delivery
	select {
	case d = <-sub.posts:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery after new items")
	}
	latency := d.at.Sub(o.servedAt(5))
	t.Logf("delivery latency: %v from the origin serving the new items", latency)
	if !d.sigOK {
		t.Errorf("X-Hub-Signature %q does not verify", d.header.Get("X-Hub-Signature"))
	}
	if l := links(d.header); l["hub"] != hub || l["self"] != topic {
		t.Errorf("delivery Link headers %q", d.header.Values("Link"))
	}
	if !strings.Contains(string(d.body), "https://growing.example/5") || !strings.HasPrefix(d.header.Get("Content-Type"), "application/atom+xml") {
		t.Errorf("delivery %s lacks the new item", d.header.Get("Content-Type"))
	}
	select {
	case qd := <-quiet.posts:
		if qd.header.Get("X-Hub-Signature") != "" {
			t.Error("a subscriber without secret got a signature")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery to the second subscriber")
	}

	subscribe(t, hub, "unsubscribe", topic, sub.URL+"/cb?x=1", "")
	sub.waitVerified(t, "unsubscribe")
	waitSubscriptions(t, base, 1)
	o.n.Store(7)
	select { // the one still subscribed hears of the change...
	case <-quiet.posts:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery to the remaining subscriber")
	}
	select { // ...the one that left does not, though both would be sent at once
	case <-sub.posts:
		t.Error("delivery after unsubscribing")
	case <-time.After(500 * time.Millisecond):
	}
}
