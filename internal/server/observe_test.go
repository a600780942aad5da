package server

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// A channel id with a dot is counted under its id by the metrics and the
// subscriber statistics, whatever else its name looks like: here "kr" is
// a channel too, which a parser cutting at the first dot would credit.
func TestObserveChannelWithDot(t *testing.T) {
	modified := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f := newFeeds(t, fakeMembers{}, []feed.Channel{{ID: "kr.news", Title: "kr.news", Limit: 10}, {ID: "kr", Title: "kr", Limit: 10}}, nil)
	for _, id := range []string{"kr.news", "kr"} {
		for _, format := range publish.Formats {
			f.docs[id+"."+string(format)] = &publish.Document{Format: format, Body: []byte(id + " in " + string(format)), ETag: `"` + id + `"`, LastModified: modified}
		}
	}
	out := &outputs{}
	subs := NewSubscribers(nil, nil, "")
	s := New(f, fakeHealth{}, Options{BaseURL: "https://agg.example",
		Extras: Extras{Subscribers: subs, Feeds: out}})
	for _, path := range []string{"/feeds/kr.news.atom", "/feeds/kr.news.rss", "/feeds/kr.news.json", "/feeds/kr.news.xml", "/feeds/kr.news/archive/1.atom"} {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "10.0.0.1:1"
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if path == "/feeds/kr.news.atom" {
			if got, want := rec.Body.String(), "kr.news in atom"; rec.Code != 200 || got != want {
				t.Errorf("%s: %d %q, want 200 %q", path, rec.Code, got, want)
			}
			if got, want := rec.Header().Get("Link"), `<https://agg.example/feeds/kr.news.atom>; rel="self"`; got != want {
				t.Errorf("%s: Link %q, want %q", path, got, want)
			}
		}
	}
	// The archive page is not a subscription: it is not counted.
	want := []string{"kr.news atom 200", "kr.news rss 200", "kr.news json 200", "kr.news other 404"}
	if !slices.Equal(out.got, want) {
		t.Errorf("metrics recorded %q\nwant %q", out.got, want)
	}
	days := subs.Today()
	if len(days) != 1 || days[0].Channel != "kr.news" || days[0].Requests != 3 {
		t.Errorf("subscriber statistics %+v, want 3 requests of channel kr.news", days)
	}
}

// The 304s answered before the wrappers (Server.unchangedFeed) are counted
// as the others are: in the metrics, and per client as unchanged polls.
// A tag that matches nothing gets the whole 200, its security headers and
// one Vary included, as if no shortcut were tried.
func TestUnchangedFeedCounted(t *testing.T) {
	f := newFeeds(t, fakeMembers{}, []feed.Channel{{ID: "news", Title: "News", Limit: 10}}, nil)
	for _, format := range publish.Formats {
		f.docs["news."+string(format)] = &publish.Document{Format: format, Body: []byte("news in " + string(format)), ETag: `"news-` + string(format) + `"`}
	}
	out := &outputs{}
	subs := NewSubscribers(nil, nil, "")
	s := New(f, fakeHealth{}, Options{Extras: Extras{Subscribers: subs, Feeds: out}})
	get := func(path, inm string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "10.0.0.1:1"
		req.Header.Set("If-None-Match", inm)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("/feeds/news.atom", `"news-atom"`); rec.Code != 304 || rec.Body.Len() != 0 {
		t.Errorf("a matching tag: %d %q, want 304", rec.Code, rec.Body.String())
	}
	if rec := get("/feeds/news.rss", `"news-rss"`); rec.Code != 304 {
		t.Errorf("a matching tag: %d, want 304", rec.Code)
	}
	rec := get("/feeds/news.json", `"stale"`)
	if rec.Code != 200 || rec.Body.String() != "news in json" {
		t.Errorf("a stale tag: %d %q, want 200 with the document", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Content-Security-Policy") == "" || len(rec.Header().Values("Vary")) != 1 || rec.Header().Get("Etag") != `"news-json"` {
		t.Errorf("a stale tag's 200 headers %v: want the security headers, one Vary and the document's tag", rec.Header())
	}
	if rec := get("/feeds/nothere.atom", `"news-atom"`); rec.Code != 404 {
		t.Errorf("an unknown channel with a tag: %d, want 404", rec.Code)
	}
	want := []string{"news atom 304", "news rss 304", "news json 200", "  404"}
	if !slices.Equal(out.got, want) {
		t.Errorf("metrics recorded %q\nwant %q", out.got, want)
	}
	days := subs.Today()
	if len(days) != 1 || days[0].Requests != 3 || days[0].NotModified != 2 {
		t.Errorf("subscriber statistics %+v, want 3 requests of news, 2 of them unchanged", days)
	}
}
