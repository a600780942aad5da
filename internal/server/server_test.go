package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
)

// fakeMembers is a membership index in memory: each channel's members,
// newest first, with their Seqs.
type fakeMembers map[string][]feed.Item

func (m fakeMembers) page(list []feed.Item, from, n int) membership.Page {
	from = max(0, min(from, len(list)))
	p := membership.Page{Items: list[from:min(from+n, len(list))], More: from+n < len(list)}
	if len(p.Items) > 0 {
		p.First, p.Last = cursorOf(p.Items[0]), cursorOf(p.Items[len(p.Items)-1])
	}
	return p
}

func cursorOf(it feed.Item) membership.Cursor {
	return membership.Cursor{Pin: -1, Sort: it.Sort(), Seq: it.Seq}
}

func (m fakeMembers) at(id string, c membership.Cursor) int {
	for i, it := range m[id] {
		if it.Seq == c.Seq {
			return i
		}
	}
	return len(m[id])
}

func (m fakeMembers) Older(_ context.Context, id string, after *membership.Cursor, n int) (membership.Page, error) {
	from := 0
	if after != nil {
		from = m.at(id, *after) + 1
	}
	return m.page(m[id], from, n), nil
}

func (m fakeMembers) Newer(_ context.Context, id string, before membership.Cursor, n int) (membership.Page, error) {
	end := m.at(id, before)
	p := m.page(m[id], end-n, min(n, end))
	p.More = end-n > 0
	return p, nil
}

func (m fakeMembers) Skip(_ context.Context, id string, skip, n int) (membership.Page, error) {
	return m.page(m[id], skip, n), nil
}

func (m fakeMembers) ChannelsOf(_ context.Context, it feed.Item) ([]string, error) {
	var out []string
	for id, list := range m {
		for _, x := range list {
			if x.SourceID == it.SourceID && x.Key == it.Key {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m fakeMembers) Label(id string) string { return id }

func (m fakeMembers) Withdrawn(feed.Item) bool { return false }

func (m fakeMembers) Followed(context.Context) (uint64, error) { return 0, nil }

func (m fakeMembers) Newest(ctx context.Context, id string, n int) (membership.Page, error) {
	return m.Older(ctx, id, nil, n)
}
func (m fakeMembers) Pages(_ context.Context, id string) (int, error) { return 1, nil }
func (m fakeMembers) Archive(_ context.Context, id string, n int) (membership.ArchivePage, error) {
	return membership.ArchivePage{Number: 1, Pages: 1, Items: m[id]}, nil
}

// fakeFeeds is a publish cache whose documents are given.
type fakeFeeds struct {
	*publish.Cache
	docs map[string]*publish.Document // "news.atom", "news/1.atom"
}

func (f fakeFeeds) Document(id string, format publish.Format) (*publish.Document, error) {
	if _, ok := f.Channel(id); !ok {
		return nil, publish.ErrNoChannel
	}
	if d := f.docs[id+"."+string(format)]; d != nil {
		return d, nil
	}
	return f.Cache.Document(id, format)
}

func (f fakeFeeds) Archive(id string, page int, format publish.Format) (*publish.Document, error) {
	if d := f.docs[fmt.Sprintf("%s/%d.%s", id, page, format)]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("archive: %w", publish.ErrNoPage)
}

// newFeeds configures a publish cache over members.
func newFeeds(t *testing.T, members fakeMembers, channels []feed.Channel, sources []feed.Source) fakeFeeds {
	t.Helper()
	c := publish.NewCache(members, fakeStates{}, "")
	if err := c.Configure(channels, sources); err != nil {
		t.Fatal(err)
	}
	return fakeFeeds{Cache: c, docs: map[string]*publish.Document{}}
}

type fakeHealth struct{ err error }

func (h fakeHealth) Ping(context.Context) error { return h.err }

func newTestServer(t *testing.T, health error) *Server {
	t.Helper()
	modified := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	members := fakeMembers{"news": {{
		SourceID: "src", Key: "id:1", Title: "<script>alert(1)</script> 뉴스", Link: "https://example.org/1",
		Summary: "<p>Safe <b>summary</b></p>", Published: modified, Updated: modified, Seq: 1,
		Authors: []feed.Person{{Name: "Kim"}}, Categories: []feed.Category{{Term: "politics"}},
	}}}
	f := newFeeds(t, members, []feed.Channel{{ID: "news", Title: "News <&> Views", Description: "All the news", Sources: []string{"src"}, Limit: 50}},
		[]feed.Source{{ID: "src", Title: "The Source", URL: "https://example.org/feed"}})
	for _, fm := range publish.Formats {
		body := []byte("document in " + string(fm))
		f.docs["news."+string(fm)] = &publish.Document{Format: fm, Body: body, ETag: `"etag-` + string(fm) + `"`, LastModified: modified}
	}
	return New(f, fakeHealth{health}, Options{MaxAge: time.Minute, Extras: Extras{Members: members}})
}

func do(t *testing.T, h http.Handler, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

func TestFeed(t *testing.T) {
	s := newTestServer(t, nil)
	resp, body := do(t, s, "GET", "/feeds/news.rss")
	if resp.StatusCode != 200 || body != "document in rss" {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/rss+xml; charset=utf-8",
		"ETag":          `"etag-rss"`,
		"Last-Modified": "Wed, 25 Nov 2026 12:00:00 GMT",
		"Cache-Control": "public, max-age=60",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	t.Run("HEAD has headers and no body", func(t *testing.T) {
		resp, body := do(t, s, "HEAD", "/feeds/news.atom")
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("ETag") != `"etag-atom"` {
			t.Errorf("HEAD: %d %q etag %q", resp.StatusCode, body, resp.Header.Get("ETag"))
		}
	})
	t.Run("weak If-None-Match list matches", func(t *testing.T) {
		resp, body := do(t, s, "GET", "/feeds/news.json", "If-None-Match", `"x", W/"etag-json"`)
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("status %d body %q, want 304", resp.StatusCode, body)
		}
	})
	t.Run("older If-Modified-Since gets the body", func(t *testing.T) {
		resp, _ := do(t, s, "GET", "/feeds/news.json", "If-Modified-Since", "Tue, 24 Nov 2026 12:00:00 GMT")
		if resp.StatusCode != 200 {
			t.Errorf("status %d, want 200", resp.StatusCode)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for path, want := range map[string]string{
			"/feeds/other.atom": `no such channel "other"`,
			"/feeds/news.xml":   `no such feed format "xml"`,
			"/feeds/news":       `no such feed "news"`,
			"/channels/other":   `<p class="error-message">No such channel &#34;other&#34;.</p>`,
		} {
			resp, body := do(t, s, "GET", path)
			if resp.StatusCode != 404 || !strings.Contains(body, want) {
				t.Errorf("%s: %d %q, want 404 %q", path, resp.StatusCode, body, want)
			}
		}
	})
	t.Run("POST is refused", func(t *testing.T) {
		if resp, _ := do(t, s, "POST", "/feeds/news.atom"); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
	})
}

func TestPages(t *testing.T) {
	s := newTestServer(t, nil)
	resp, body := do(t, s, "GET", "/channels/news")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<title>News &lt;&amp;&gt; Views · aggregator</title>`, // a cache given no site: the program's name
		`<link rel="alternate" type="application/atom+xml"`,
		`href="/feeds/news.json"`,
		`&lt;script&gt;alert(1)&lt;/script&gt; 뉴스`, // titles are text
		`<p>Safe <b>summary</b></p>`,
		`<time datetime="2026-11-25T12:00:00Z">25 November 2026</time>`,
		`The Source`, `by Kim`, `politics`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("channel page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("channel page contains a script element")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	resp, body = do(t, s, "GET", "/")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/channels/news"`) {
		t.Errorf("index: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := do(t, s, "GET", "/style.css"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := do(t, s, "GET", "/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	if resp, _ := do(t, newTestServer(t, nil), "GET", "/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthy store: %d", resp.StatusCode)
	}
	if resp, body := do(t, newTestServer(t, errors.New("database not open")), "GET", "/healthz"); resp.StatusCode != 503 || strings.Contains(body, "database not open") {
		t.Errorf("closed store: %d %q, want 503 without the cause", resp.StatusCode, body)
	}
}
