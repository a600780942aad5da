package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// bigDoc is a document larger than net/http's copy buffers, with its gzip.
func bigDoc(t *testing.T) *publish.Document {
	t.Helper()
	body := []byte(strings.Repeat("<entry><title>뉴스 a story</title></entry>\n", 8000)) // 330 KB
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(body)
	zw.Close()
	return &publish.Document{Format: publish.Atom, Body: body, ETag: `"big"`, Gzip: b.Bytes(), GzipETag: `"big-gzip"`,
		LastModified: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

// TestFeedRepliesHaveLength: over a real connection, every whole reply
// (identity, gzip, and HEAD of both) states its Content-Length and is not
// chunked, and the body that arrives is the document. http.ServeContent
// sent the gzip reply chunked, without a length.
func TestFeedRepliesHaveLength(t *testing.T) {
	f := newFeeds(t, fakeMembers{}, []feed.Channel{{ID: "news", Title: "News", Limit: 10}}, nil)
	doc := bigDoc(t)
	f.docs["news.atom"] = doc
	srv := httptest.NewServer(New(f, fakeHealth{}, Options{}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, tc := range []struct {
		name, method, accept string
		want                 []byte
	}{
		{"identity", "GET", "", doc.Body},
		{"gzip", "GET", "gzip", doc.Gzip},
		{"identity HEAD", "HEAD", "", nil},
		{"gzip HEAD", "HEAD", "gzip", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+"/feeds/news.atom", nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			size := len(doc.Body)
			if tc.accept == "gzip" {
				size = len(doc.Gzip)
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(size) {
				t.Errorf("Content-Length %q, want %d", got, size)
			}
			if len(resp.TransferEncoding) > 0 {
				t.Errorf("Transfer-Encoding %q, want none", resp.TransferEncoding)
			}
			if resp.StatusCode != 200 || !bytes.Equal(body, tc.want) {
				t.Errorf("status %d, %d bytes; want 200, %d bytes", resp.StatusCode, len(body), len(tc.want))
			}
			if resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("Accept-Ranges %q, want bytes", resp.Header.Get("Accept-Ranges"))
			}
		})
	}
}

// TestFeedDateConditions: without If-None-Match, a current
// If-Modified-Since is answered 304 with no representation metadata and,
// since the tag says it all, no date; If-Unmodified-Since and If-Match are
// honoured as http.ServeContent does.
func TestFeedDateConditions(t *testing.T) {
	s := newGzipServer(t)
	resp, body := do(t, s, "GET", "/feeds/news.atom", "If-Modified-Since", "Wed, 25 Nov 2026 12:00:00 GMT", "Accept-Encoding", "gzip")
	if resp.StatusCode != 304 || body != "" {
		t.Fatalf("current If-Modified-Since: %d %q, want 304", resp.StatusCode, body)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Last-Modified"} {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("304 has %s: %q", k, v)
		}
	}
	if resp.Header.Get("ETag") != `"t-atom-gzip"` || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("304 headers %v, want the gzip tag and Vary", resp.Header)
	}
	if resp, _ := do(t, s, "GET", "/feeds/news.atom", "If-Modified-Since", "not a date"); resp.StatusCode != 200 {
		t.Errorf("an unreadable If-Modified-Since: %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/feeds/news.atom", "If-Unmodified-Since", "Tue, 24 Nov 2026 12:00:00 GMT"); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("a past If-Unmodified-Since: %d, want 412", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/feeds/news.atom", "If-Match", `"other"`); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("a foreign If-Match: %d, want 412", resp.StatusCode)
	}
	if resp, body := do(t, s, "GET", "/feeds/news.atom", "If-Match", `"t-atom"`); resp.StatusCode != 200 || body != "document in atom" {
		t.Errorf("a matching If-Match: %d %q, want 200 with the document", resp.StatusCode, body)
	}
}

// TestNotModifiedHeaders: a 304, whichever condition made it, carries
// Cache-Control, ETag and Vary and nothing else the handlers set: no
// representation metadata, no date beside the tag, no Link and no security
// headers (the cache keeps those of its stored 200). The 200 has them all.
func TestNotModifiedHeaders(t *testing.T) {
	s := newGzipServer(t)
	full, _ := do(t, s, "GET", "/feeds/news.atom")
	for _, k := range []string{"Content-Type", "Last-Modified", "Link", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Accept-Ranges"} {
		if full.Header.Get(k) == "" {
			t.Errorf("200 without %s: %v", k, full.Header)
		}
	}
	for name, h := range map[string][]string{
		"If-None-Match":           {"If-None-Match", `"t-atom"`},
		"If-None-Match, gzip":     {"If-None-Match", `"t-atom-gzip"`, "Accept-Encoding", "gzip"},
		"If-Modified-Since":       {"If-Modified-Since", "Wed, 25 Nov 2026 12:00:00 GMT"},
		"If-Modified-Since, gzip": {"If-Modified-Since", "Thu, 26 Nov 2026 12:00:00 GMT", "Accept-Encoding", "gzip"},
	} {
		resp, _ := do(t, s, "GET", "/feeds/news.atom", h...)
		if resp.StatusCode != 304 {
			t.Errorf("%s: %d, want 304", name, resp.StatusCode)
			continue
		}
		var keys []string
		for k := range resp.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"Cache-Control", "Etag", "Vary"}; !slices.Equal(keys, want) {
			t.Errorf("%s: 304 headers %v, want %v", name, keys, want)
		}
	}
}

// TestFeedPathsAsTheMuxHasThem: the shortcut to feeds (Server.route) takes
// only what the mux would have sent to handleDocument; a path the mux
// cleans first is redirected as before, another method is refused, and
// a HEAD is answered as a GET without the body.
func TestFeedPathsAsTheMuxHasThem(t *testing.T) {
	s := newGzipServer(t)
	for _, p := range []string{"/feeds//news.atom", "/feeds/x/../news.atom", "/feeds/./news.atom"} {
		resp, _ := do(t, s, "GET", p)
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/feeds/news.atom" {
			t.Errorf("GET %s: %d to %q, want a redirect to /feeds/news.atom", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := do(t, s, "DELETE", "/feeds/news.atom"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d, want 405", resp.StatusCode)
	}
	if resp, body := do(t, s, "HEAD", "/feeds/news.rss"); resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != strconv.Itoa(len("document in rss")) {
		t.Errorf("HEAD: %d %q Content-Length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	if resp, _ := do(t, s, "GET", "/feeds/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /feeds/: %d, want 404", resp.StatusCode)
	}
}
