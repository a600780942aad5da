package e2e

import (
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// growingOrigin serves RSS feeds at /feeds/{n}.rss whose items grow on
// every request: the g-th answer for a source lists items 1..min(g·step,
// limit), item n having guid "s{source}-{n}", so a feed is always a prefix
// of its later versions. When hold is set, the next request for any feed
// announces itself on held and waits until release is closed (or the
// client goes away) before answering.
type growingOrigin struct {
	*httptest.Server
	step, limit int
	pad         string // bulk added to each item's description

	mu      sync.Mutex
	served  map[string]int // source → highest item number sent in a complete answer
	gen     map[string]int
	hold    bool
	frozen  bool // answers stop growing
	held    chan string
	release chan struct{}
}

func newGrowingOrigin(t *testing.T, step, limit, padBytes int) *growingOrigin {
	t.Helper()
	o := &growingOrigin{step: step, limit: limit, pad: randomHangul(padBytes),
		served: map[string]int{}, gen: map[string]int{}, held: make(chan string, 1)}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

// randomHangul is about n bytes of Hangul syllables drawn at random (the
// same each run), in words: the store compresses items, and a repeated
// word would take almost nothing of a capped database.
func randomHangul(n int) string {
	rng := rand.New(rand.NewPCG(7, 11))
	var b strings.Builder
	for b.Len() < n {
		for range 1 + rng.IntN(4) {
			b.WriteRune(rune(0xAC00 + rng.IntN(11172)))
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// feedURL is the address of source n's feed.
func (o *growingOrigin) feedURL(n int) string { return fmt.Sprintf("%s/feeds/%d.rss", o.URL, n) }

// freeze makes every feed keep its current items from now on.
func (o *growingOrigin) freeze() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frozen = true
}

// holdNext makes the next feed request wait; it returns the channel that
// receives the source id when that request arrives and the function that
// lets it answer.
func (o *growingOrigin) holdNext() (<-chan string, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hold = true
	o.release = make(chan struct{})
	rel := o.release
	var once sync.Once
	return o.held, func() { once.Do(func() { close(rel) }) }
}

func (o *growingOrigin) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/feeds/")
	name, ok2 := strings.CutSuffix(name, ".rss")
	if !ok || !ok2 {
		http.NotFound(w, r)
		return
	}
	if _, err := strconv.Atoi(name); err != nil {
		http.NotFound(w, r)
		return
	}
	src := "s" + name
	o.mu.Lock()
	if !o.frozen || o.gen[src] == 0 {
		o.gen[src]++
	}
	n := min(o.gen[src]*o.step, o.limit)
	hold, release := o.hold, o.release
	o.hold = false
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	body := o.body(src, n)
	if hold {
		// Stop half-way through the answer, so that the poll is caught
		// reading the body.
		half := len(body) / 2
		w.Write([]byte(body[:half]))
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		o.held <- src
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		body = body[half:]
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return
	}
	o.mu.Lock()
	o.served[src] = max(o.served[src], n)
	o.mu.Unlock()
}

// body is the RSS document listing items 1..n of src, newest first.
func (o *growingOrigin) body(src string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Source %s</title><link>%s</link><description>grows</description>
`, src, o.URL)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	desc := html.EscapeString("<p>" + o.pad + "</p>")
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, "<item><title>%s item %d</title><link>%s/%s/%d</link><guid isPermaLink=\"false\">%s-%d</guid><pubDate>%s</pubDate><description>%s</description></item>\n",
			src, i, o.URL, src, i, src, i, base.Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z), desc)
	}
	b.WriteString("</channel></rss>\n")
	return b.String()
}

// writeGrowingConfig writes a feeds.yaml polling sources 1..n of o every
// second into one channel "all", with the database at db;
// storage is added to the storage mapping ("max_size: 1MiB"), extra after
// the fetch mapping.
func writeGrowingConfig(t *testing.T, dir string, o *growingOrigin, n int, db, storage, extra string) string {
	t.Helper()
	var b strings.Builder
	if storage != "" {
		storage = ", " + storage
	}
	fmt.Fprintf(&b, "server: { listen: \"127.0.0.1:0\", base_url: \"http://aggregator.test\" }\nstorage: { path: %q%s }\n", db, storage)
	// host_gap 0s: every source is on one origin host, and the default
	// pacing (1 s between requests to a host) made a round of 12 sources
	// take 12 s. timeout 60s: a feed grown to hundreds of items parses in
	// seconds under -race, past 10 s on a loaded machine, and the tests
	// here are about what the store keeps, not about slow origins.
	fmt.Fprintf(&b, "fetch: { interval: 1s, timeout: 60s, allow_private_networks: true, contact: \"ops@example.org\", concurrency: 8, host_gap: 0s }\n%s", extra)
	b.WriteString("sources:\n")
	var ids []string
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - { id: s%d, url: %q, interval: 1s }\n", i, o.feedURL(i))
		ids = append(ids, fmt.Sprintf("s%d", i))
	}
	fmt.Fprintf(&b, "channels:\n  - { id: all, title: Everything, sources: [%s], limit: 1000 }\n", strings.Join(ids, ", "))
	return writeFile(t, dir, "feeds.yaml", b.String())
}
