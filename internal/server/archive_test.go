package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

func gzDoc(f publish.Format, body string) *publish.Document {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(body))
	zw.Close()
	tag := `"t-` + string(f) + `"`
	return &publish.Document{
		Format: f, Body: []byte(body), ETag: tag, Gzip: b.Bytes(), GzipETag: `"t-` + string(f) + `-gzip"`,
		LastModified: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}
}

// newGzipServer serves one channel whose documents and two archive pages
// are given, gzip included.
func newGzipServer(t *testing.T) *Server {
	f := newFeeds(t, fakeMembers{}, []feed.Channel{{ID: "news", Title: "News", Limit: 10}}, nil)
	for _, fm := range publish.Formats {
		f.docs["news."+string(fm)] = gzDoc(fm, "document in "+string(fm))
		for page := 1; page <= 2; page++ {
			f.docs[fmt.Sprintf("news/%d.%s", page, fm)] = gzDoc(fm, fmt.Sprintf("page %d in %s", page, fm))
		}
	}
	return New(f, fakeHealth{}, Options{
		MaxAge: time.Minute, BaseURL: "http://agg.test", Hubs: []string{"http://agg.test/websub"},
	})
}

func TestFeedGzip(t *testing.T) {
	s := newGzipServer(t)
	resp, body := do(t, s, "GET", "/feeds/news.atom", "Accept-Encoding", "gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") != `"t-atom-gzip"` || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip response headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != "document in atom" {
		t.Errorf("gzip body decodes to %q", plain)
	}
	if got := resp.Header.Values("Link"); len(got) != 2 || got[0] != `<http://agg.test/websub>; rel="hub"` || got[1] != `<http://agg.test/feeds/news.atom>; rel="self"` {
		t.Errorf("Link = %q", got)
	}
	resp, body = do(t, s, "GET", "/feeds/news.atom", "Accept-Encoding", "gzip;q=0, br")
	if resp.Header.Get("Content-Encoding") != "" || body != "document in atom" || resp.Header.Get("ETag") != `"t-atom"` {
		t.Errorf("gzip;q=0: %v %q", resp.Header, body)
	}
	for name, h := range map[string][]string{
		"gzip tag, identity request":     {"If-None-Match", `"t-atom-gzip"`},
		"identity tag, gzip request":     {"If-None-Match", `W/"t-atom"`, "Accept-Encoding", "gzip"},
		"If-None-Match wins over a date": {"If-None-Match", `"t-atom"`, "If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"},
	} {
		if resp, body := do(t, s, "GET", "/feeds/news.atom", h...); resp.StatusCode != 304 || body != "" {
			t.Errorf("%s: %d %q, want 304", name, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, s, "GET", "/feeds/news.atom", "If-None-Match", `"other"`, "If-Modified-Since", "Wed, 25 Nov 2026 12:00:00 GMT"); resp.StatusCode != 200 {
		t.Errorf("a non-matching tag with a current date: %d, want 200 (the date is ignored)", resp.StatusCode)
	}
	if resp, body := do(t, s, "HEAD", "/feeds/news.atom", "Accept-Encoding", "gzip"); resp.StatusCode != 200 || body != "" || resp.Header.Get("ETag") != `"t-atom-gzip"` {
		t.Errorf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestArchiveRoute(t *testing.T) {
	s := newGzipServer(t)
	// A full page is not immutable: curation can change it (issue 11).
	resp, body := do(t, s, "GET", "/feeds/news/archive/1.rss")
	if resp.StatusCode != 200 || body != "page 1 in rss" || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("full page: %d %q %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	resp, _ = do(t, s, "GET", "/feeds/news/archive/2.json")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("open page: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"/feeds/news/archive/3.atom", "/feeds/news/archive/0.atom", "/feeds/news/archive/01.atom", "/feeds/news/archive/1.xml", "/feeds/other/archive/1.atom"} {
		if resp, _ := do(t, s, "GET", p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}
