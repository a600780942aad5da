package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed/atom"
	"github.com/mmcdole/gofeed/rss"
)

// origin serves the files of testdata/ and counts the requests per path.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{hits: map[string]int{}}
	files := http.FileServer(http.Dir("testdata"))
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// writeConfig writes a feeds.yaml for two sources of the origin and returns its path.
func writeConfig(t *testing.T, originURL, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: kei-peninsula, url: %q, title: "The Peninsula (KEI)", tags: [think-tank] }
  - { id: 38north, url: %q, title: "38 North", tags: [think-tank, north-korea] }
%s
channels:
  - { id: the-peninsula, title: The Peninsula, description: "KEI's blog", sources: [kei-peninsula] }
  - { id: think-tanks, title: Think tanks, description: "Everything from think tanks", tags: [think-tank] }
`, filepath.Join(t.TempDir(), "db", "aggregator.db"), originURL+"/peninsula.rss", originURL+"/northkorea.atom", extra)
	path := filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func noenv(string) string { return "" }

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs "aggregator serve" in-process and returns its base URL and
// a function that stops it and returns run's error.
func startServe(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	base, _, stop := startServeLogged(t, args...)
	return base, stop
}

// startServeLogged is startServe that also hands back the log.
func startServeLogged(t *testing.T, args ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), noenv, pw, stderr)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("serve did not report its address\n%s", stderr.String())
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(40 * time.Second):
			return fmt.Errorf("serve did not stop\n%s", stderr.String())
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base, stderr, stop
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// waitForItems polls a channel's JSON feed until it lists n items.
func waitForItems(t *testing.T, base, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := get(t, base+"/feeds/"+channel+".json")
		var doc struct{ Items []json.RawMessage }
		if resp.StatusCode == 200 && json.Unmarshal(body, &doc) == nil && len(doc.Items) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s never reached %d items; last response %d: %.300s", channel, n, resp.StatusCode, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestServeEndToEnd(t *testing.T) {
	o := newOrigin(t)
	base, stop := startServe(t, "-config", writeConfig(t, o.URL, ""))
	waitForItems(t, base, "think-tanks", 3)

	t.Run("atom", func(t *testing.T) {
		resp, body := get(t, base+"/feeds/think-tanks.atom")
		if got, want := resp.Header.Get("Content-Type"), "application/atom+xml; charset=utf-8"; got != want {
			t.Errorf("Content-Type=%q, want %q", got, want)
		}
		f, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parse atom: %v\n%s", err, body)
		}
		if got, want := len(f.Entries), 3; got != want {
			t.Fatalf("entries=%d, want %d", got, want)
		}
		var self string
		for _, l := range f.Links {
			if l.Rel == "self" {
				self = l.Href
			}
		}
		if got, want := self, "http://aggregator.test/feeds/think-tanks.atom"; got != want {
			t.Errorf("rel=self %q, want %q", got, want)
		}
		// Newest first: 38 North (25 Nov), then KEI's 24 Nov 09:00 KST post
		// (00:00 UTC), then KEI's 23 Nov post.
		want := []struct{ id, title, link, source string }{
			{"tag:38north.org,2026:yongbyon-2026-11", "Satellite Imagery of Yongbyon", "https://www.38north.org/2026/11/yongbyon/", "38 North"},
			{"", "Alliance Politics After the Summit", o.URL + "/the-peninsula/alliance-politics/", "The Peninsula (KEI)"},
			{"https://keia.org/the-peninsula/economic-cooperation/", "한반도 정세와 경제 협력", "https://keia.org/the-peninsula/economic-cooperation/", "The Peninsula (KEI)"},
		}
		for i, w := range want {
			e := f.Entries[i]
			if (w.id != "" && e.ID != w.id) || e.Title != w.title {
				t.Errorf("entry %d: id=%q title=%q, want %q %q", i, e.ID, e.Title, w.id, w.title)
			}
			if len(e.Links) == 0 || e.Links[0].Href != w.link {
				t.Errorf("entry %d: links=%+v, want %s", i, e.Links, w.link)
			}
			if e.Source == nil || e.Source.Title != w.source {
				t.Errorf("entry %d: source=%+v, want title %q", i, e.Source, w.source)
			}
		}
		// An upstream guid that is not a URI still yields a stable IRI id.
		if id := f.Entries[1].ID; !strings.HasPrefix(id, "urn:uuid:") {
			t.Errorf("entry for guid keia-post-1001: id=%q, want a urn:uuid", id)
		}
		if strings.Contains(string(body), "<script") || strings.Contains(string(body), "&lt;script") {
			t.Errorf("script survived sanitising:\n%s", body)
		}
	})

	t.Run("rss", func(t *testing.T) {
		resp, body := get(t, base+"/feeds/the-peninsula.rss")
		if got, want := resp.Header.Get("Content-Type"), "application/rss+xml; charset=utf-8"; got != want {
			t.Errorf("Content-Type=%q, want %q", got, want)
		}
		f, err := (&rss.Parser{}).Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parse rss: %v\n%s", err, body)
		}
		if got, want := len(f.Items), 2; got != want {
			t.Fatalf("items=%d, want %d", got, want)
		}
		last := f.Items[1]
		if last.GUID == nil || last.GUID.Value != "https://keia.org/the-peninsula/economic-cooperation/" || last.GUID.IsPermalink == "false" {
			t.Errorf("guid=%+v, want the permalink", last.GUID)
		}
		second := f.Items[0]
		// "keia-post-1001" is no URI: the guid is the entry's stable urn:uuid, as in Atom.
		if second.GUID == nil || !strings.HasPrefix(second.GUID.Value, "urn:uuid:") || second.GUID.IsPermalink != "false" {
			t.Errorf("guid=%+v, want a urn:uuid isPermaLink=false", second.GUID)
		}
		if got, want := second.Link, o.URL+"/the-peninsula/alliance-politics/"; got != want {
			t.Errorf("relative link resolved to %q, want %q", got, want)
		}
		if got, want := second.Title, "Alliance Politics After the Summit"; got != want {
			t.Errorf("title=%q, want %q", got, want)
		}
		if second.Source == nil || second.Source.URL != o.URL+"/peninsula.rss" || second.Source.Title != "The Peninsula (KEI)" {
			t.Errorf("source=%+v", second.Source)
		}
	})

	t.Run("json", func(t *testing.T) {
		resp, body := get(t, base+"/feeds/the-peninsula.json")
		if got, want := resp.Header.Get("Content-Type"), "application/feed+json; charset=utf-8"; got != want {
			t.Errorf("Content-Type=%q, want %q", got, want)
		}
		var doc struct {
			Version string `json:"version"`
			FeedURL string `json:"feed_url"`
			Items   []struct {
				ID    string `json:"id"`
				URL   string `json:"url"`
				Title string `json:"title"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("json: %v\n%s", err, body)
		}
		if doc.Version != "https://jsonfeed.org/version/1.1" || doc.FeedURL != "http://aggregator.test/feeds/the-peninsula.json" {
			t.Errorf("version=%q feed_url=%q", doc.Version, doc.FeedURL)
		}
		if len(doc.Items) != 2 || doc.Items[1].Title != "한반도 정세와 경제 협력" {
			t.Errorf("items=%+v", doc.Items)
		}
	})

	t.Run("conditional GET", func(t *testing.T) {
		for _, format := range []string{"atom", "rss", "json"} {
			url := base + "/feeds/the-peninsula." + format
			resp, _ := get(t, url)
			etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
			if etag == "" || strings.HasPrefix(etag, "W/") || lastMod == "" {
				t.Fatalf("%s: ETag=%q Last-Modified=%q, want a strong ETag and a date", format, etag, lastMod)
			}
			resp, body := get(t, url, "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("%s If-None-Match: status %d, %d bytes; want 304 with no body", format, resp.StatusCode, len(body))
			}
			resp, _ = get(t, url, "If-Modified-Since", lastMod)
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("%s If-Modified-Since: status %d, want 304", format, resp.StatusCode)
			}
			// If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
			resp, _ = get(t, url, "If-None-Match", `"other"`, "If-Modified-Since", lastMod)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s stale If-None-Match with fresh If-Modified-Since: status %d, want 200", format, resp.StatusCode)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		resp, body := get(t, base+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("/: %d", resp.StatusCode)
		}
		for _, want := range []string{
			`<link rel="alternate" type="application/atom+xml"`,
			`href="/feeds/the-peninsula.atom"`,
			`href="/channels/think-tanks"`,
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("index lacks %s", want)
			}
		}
		resp, body = get(t, base+"/channels/the-peninsula")
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("한반도 정세와 경제 협력")) || !bytes.Contains(body, []byte(`<time datetime="2026-11-23T10:30:00Z">`)) {
			t.Errorf("/channels/the-peninsula: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("unknown channel", func(t *testing.T) {
		// Feeds answer a short plain-text message; a page route an HTML
		// page in the site's style.
		for _, path := range []string{"/feeds/nope.atom", "/feeds/the-peninsula.xml"} {
			resp, body := get(t, base+path)
			if resp.StatusCode != http.StatusNotFound || len(body) == 0 || len(body) > 200 {
				t.Errorf("%s: %d %q, want 404 with a short message", path, resp.StatusCode, body)
			}
		}
		resp, body := get(t, base+"/channels/nope")
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!bytes.Contains(body, []byte("<h1>Page not found</h1>")) || !bytes.Contains(body, []byte("No such channel &#34;nope&#34;.")) {
			t.Errorf("/channels/nope: %d %s %q, want the 404 page", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		if resp, _ := get(t, base+"/healthz"); resp.StatusCode != 200 {
			t.Errorf("healthz %d", resp.StatusCode)
		}
	})

	// One unconditional poll per source: nothing is due again within the hour.
	if got := o.count("/peninsula.rss"); got != 1 {
		t.Errorf("origin saw %d requests for /peninsula.rss, want 1", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v, want nil on shutdown", err)
	}
}
