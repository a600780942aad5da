package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed/atom"
	"github.com/mmcdole/gofeed/rss"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// TestServe polls two origins and reads every kind of output through the
// Handler: the documents in three formats with their ids, links and
// sources, conditional GET, the HTML pages, 404s and /healthz; each source
// is polled once.
func TestServe(t *testing.T) {
	o := newOrigin(t)
	r := startApp(t, writeConfig(t, o.URL, ""))
	base := r.base
	apptest.WaitForItems(t, base, "think-tanks", 3)

	t.Run("atom", func(t *testing.T) {
		resp, body := apptest.Get(t, base+"/feeds/think-tanks.atom")
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
		resp, body := apptest.Get(t, base+"/feeds/the-peninsula.rss")
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
		resp, body := apptest.Get(t, base+"/feeds/the-peninsula.json")
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
			resp, _ := apptest.Get(t, url)
			etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
			if etag == "" || strings.HasPrefix(etag, "W/") || lastMod == "" {
				t.Fatalf("%s: ETag=%q Last-Modified=%q, want a strong ETag and a date", format, etag, lastMod)
			}
			resp, body := apptest.Get(t, url, "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("%s If-None-Match: status %d, %d bytes; want 304 with no body", format, resp.StatusCode, len(body))
			}
			resp, _ = apptest.Get(t, url, "If-Modified-Since", lastMod)
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("%s If-Modified-Since: status %d, want 304", format, resp.StatusCode)
			}
			// If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
			resp, _ = apptest.Get(t, url, "If-None-Match", `"other"`, "If-Modified-Since", lastMod)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s stale If-None-Match with fresh If-Modified-Since: status %d, want 200", format, resp.StatusCode)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		resp, body := apptest.Get(t, base+"/")
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
		resp, body = apptest.Get(t, base+"/channels/the-peninsula")
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("한반도 정세와 경제 협력")) || !bytes.Contains(body, []byte(`<time datetime="2026-11-23T10:30:00Z">`)) {
			t.Errorf("/channels/the-peninsula: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("unknown channel", func(t *testing.T) {
		// Feeds answer a short plain-text message; a page route an HTML
		// page in the site's style.
		for _, path := range []string{"/feeds/nope.atom", "/feeds/the-peninsula.xml"} {
			resp, body := apptest.Get(t, base+path)
			if resp.StatusCode != http.StatusNotFound || len(body) == 0 || len(body) > 200 {
				t.Errorf("%s: %d %q, want 404 with a short message", path, resp.StatusCode, body)
			}
		}
		resp, body := apptest.Get(t, base+"/channels/nope")
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!bytes.Contains(body, []byte("<h1>Page not found</h1>")) || !bytes.Contains(body, []byte("No such channel &#34;nope&#34;.")) {
			t.Errorf("/channels/nope: %d %s %q, want the 404 page", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		if resp, _ := apptest.Get(t, base+"/healthz"); resp.StatusCode != 200 {
			t.Errorf("healthz %d", resp.StatusCode)
		}
	})

	// One unconditional poll per source: nothing is due again within the hour.
	if got := o.Count("/peninsula.rss"); got != 1 {
		t.Errorf("origin saw %d requests for /peninsula.rss, want 1", got)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v, want nil on shutdown", err)
	}
}
