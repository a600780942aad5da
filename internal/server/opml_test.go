package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

type fakeSources []feed.Source

func (f fakeSources) Sources() []feed.Source { return f }

func TestSourcesOPML(t *testing.T) {
	srcs := fakeSources{{ID: "kei", URL: "https://keia.org/feed/", Title: "The Peninsula", Tags: []string{"think-tank"}}}
	h := New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{Sources: srcs})
	resp, body := do(t, h, "GET", "/sources.opml")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/x-opml; charset=utf-8" {
		t.Fatalf("status=%d type=%q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `<outline text="think-tank" title="think-tank">`) || !strings.Contains(body, `xmlUrl="https://keia.org/feed/"`) {
		t.Errorf("body:\n%s", body)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := do(t, h, "GET", "/sources.opml", "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %q: status=%d", etag, resp.StatusCode)
	}
	if resp, _ := do(t, New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{}), "GET", "/sources.opml"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without a source list: status=%d", resp.StatusCode)
	}
}
