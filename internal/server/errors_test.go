package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
)

// errorPageOf checks that body is an error page in the site's style with
// the given heading and message.
func errorPageOf(t *testing.T, what, body, title, msg string) {
	t.Helper()
	mustContain(t, what, body, "<!DOCTYPE html>", `<html lang="en-GB">`, "<title>"+title+" · Korea Economic Institute of America</title>",
		`<a class="brand" href="/">Korea Economic Institute of America</a>`, "<h1>"+title+"</h1>",
		`<p class="error-message">`+msg+`</p>`, `<div class="site-footer">`)
}

// TestErrorPages: every 4xx and 5xx of a page route is a page with the
// site's banner and footer, the status and a plain message; an internal
// cause is logged, never shown. Feed and JSON routes keep plain text.
func TestErrorPages(t *testing.T) {
	s := newSite(t)
	s.feeds.(*publish.Cache).SetSite(institute)
	var logs bytes.Buffer
	s.log = slog.New(slog.NewTextHandler(&logs, nil))

	for _, tc := range []struct {
		method, path  string
		status        int
		title, msg    string
		allow, header string
	}{
		{"GET", "/nope", 404, "Page not found", "There is no page at this address.", "", ""},
		{"GET", "/channels/nope", 404, "Page not found", "No such channel &#34;nope&#34;.", "", ""},
		{"GET", "/items/" + feed.ItemRef("yonhap", "missing"), 404, "Page not found", "No such item.", "", ""},
		{"GET", "/channels/news?page=0", 400, "Bad request", "Page must be a whole number from 1 to 1000.", "", ""},
		{"GET", "/search?sort=oldest", 400, "Bad request", "Sort must be relevance or newest.", "", ""},
		{"GET", "/status?format=xml", 400, "Bad request", "Format must be html or json.", "", ""},
		{"POST", "/channels/news", 405, "Method not allowed", "POST is not allowed here; use GET or HEAD.", "GET, HEAD", ""},
		{"DELETE", "/", 405, "Method not allowed", "DELETE is not allowed here; use GET or HEAD.", "GET, HEAD", ""},
	} {
		resp, body := do(t, s, tc.method, tc.path)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s %s: %d %s, want %d HTML", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			continue
		}
		errorPageOf(t, tc.method+" "+tc.path, body, tc.title, tc.msg)
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}

	// Feed and JSON routes answer in their own format.
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/feeds/nope.atom", 404, "no such channel \"nope\"\n"},
		{"POST", "/feeds/news.atom", 405, "POST is not allowed here; use GET or HEAD\n"},
		{"GET", "/feeds/news/zzz", 404, ""},
		{"GET", "/search?sort=oldest&format=json", 400, "sort must be relevance or newest\n"},
		{"GET", "/status?format=json&x=1", 200, ""},
	} {
		resp, body := do(t, s, tc.method, tc.path)
		if resp.StatusCode != tc.status || (tc.status != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain")) ||
			!strings.HasPrefix(body, tc.body) {
			t.Errorf("%s %s: %d %s %q, want %d plain text %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.body)
		}
	}

	// 410: staff hid an item that was published.
	it, err := s.db.Item(context.Background(), "yonhap", "k03")
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, s, "GET", "/items/"+it.Ref()); resp.StatusCode != 200 {
		t.Fatalf("item before the hide: %d", resp.StatusCode)
	}
	hidden := []feed.Channel{{ID: "news", Title: "Korea News", Sources: []string{"yonhap", "keia"}, Limit: 30,
		Curation: feed.Curation{Hide: []string{it.Link}}}}
	if err := s.members.Configure(context.Background(), hidden, []feed.Source{{ID: "yonhap", Title: "Yonhap"}, {ID: "keia", Title: "KEI"}}); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, s, "GET", "/items/"+it.Ref())
	if resp.StatusCode != 410 {
		t.Fatalf("hidden item: %d, want 410", resp.StatusCode)
	}
	errorPageOf(t, "hidden item", body, "Gone", "This item was withdrawn.")
	if strings.Contains(body, it.Title) {
		t.Error("the page of a withdrawn item shows its title")
	}
	if resp, _ := do(t, s, "GET", "/items/"+feed.ItemRef("yonhap", "k04")); resp.StatusCode != 200 {
		t.Errorf("an item the hide does not name: %d", resp.StatusCode)
	}

	// 500: the store fails; the page says "internal error", the log the cause.
	s.Items = failingItems{}
	resp, body = do(t, s, "GET", "/items/"+it.Ref())
	if resp.StatusCode != 500 {
		t.Fatalf("failing store: %d, want 500", resp.StatusCode)
	}
	errorPageOf(t, "failing store", body, "Something went wrong", "Internal error.")
	if strings.Contains(body, "disk on fire") || !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the cause is shown, or not logged; log:\n%s", logs.String())
	}

	// 503: search without an index, and search busy (Retry-After).
	s.Search = nil
	resp, body = do(t, s, "GET", "/search?q=x")
	if resp.StatusCode != 503 {
		t.Fatalf("no search index: %d", resp.StatusCode)
	}
	errorPageOf(t, "no search", body, "Not available yet", "Search is not available.")
}

// TestErrorPageNotReady: a channel whose membership index is being built
// for the first time is a 503 page with Retry-After; its feeds a 503 in
// plain text.
func TestErrorPageNotReady(t *testing.T) {
	channels := []feed.Channel{{ID: "news", Title: "News", Sources: []string{"src"}, Limit: 10}}
	f := newFeeds(t, fakeMembers{}, channels, []feed.Source{{ID: "src"}})
	f.SetSite(institute)
	s := New(f, fakeHealth{}, Options{Extras: Extras{Members: notReady{}}})
	for _, path := range []string{"/channels/news", "/"} {
		resp, body := do(t, s, "GET", path)
		if path == "/" {
			if resp.StatusCode != 200 || !strings.Contains(body, "News") {
				t.Errorf("index with a channel not ready: %d, want 200 listing it", resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("%s: %d Retry-After %q, want 503 and 5", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		errorPageOf(t, path, body, "Not available yet", "This channel is being indexed; try again in a few seconds.")
	}
}

type notReady struct{ fakeMembers }

func (notReady) Older(context.Context, string, *membership.Cursor, int) (membership.Page, error) {
	return membership.Page{}, membership.ErrNotReady
}

func (notReady) Skip(context.Context, string, int, int) (membership.Page, error) {
	return membership.Page{}, membership.ErrNotReady
}

type failingItems struct{}

func (failingItems) Item(context.Context, string, string) (feed.Item, error) {
	return feed.Item{}, errors.New("read item: disk on fire")
}

// TestSearchSlots: searches run one a slot; one that finds every slot
// taken for searchWait is a 503 with Retry-After, and runs once a slot is
// free.
func TestSearchSlots(t *testing.T) {
	defer func(w time.Duration) { searchWait = w }(searchWait)
	searchWait = 50 * time.Millisecond
	cache := publish.NewCache(fakeMembers{}, fakeStates{}, "https://agg.example")
	if err := cache.Configure([]feed.Channel{{ID: "news", Title: "News", Limit: 10, Sources: []string{"src"}}}, []feed.Source{{ID: "src"}}); err != nil {
		t.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Search: indexedSources{"src"}, Items: noItems{}, Members: fakeMembers{}}})
	for range cap(s.searching) {
		s.searching <- struct{}{}
	}
	resp, body := do(t, s, "GET", "/search?q=x&format=json")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "10" || !strings.Contains(body, "busy") {
		t.Fatalf("every slot taken: %d Retry-After %q %q, want 503 busy with Retry-After 10", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	<-s.searching
	if resp, body := do(t, s, "GET", "/search?q=x&format=json"); resp.StatusCode != 200 || !strings.Contains(body, `"results":[]`) {
		t.Fatalf("a slot free: %d %q, want 200", resp.StatusCode, body)
	}
	if len(s.searching) != cap(s.searching)-1 {
		t.Errorf("%d slots taken after the search, want %d: the search kept its slot", len(s.searching), cap(s.searching)-1)
	}
}

// TestSearchSlotsOfClientsGone: a search whose client is gone gives its
// slot back, whether it got one or not (with a free slot and a cancelled
// request both cases of the select are ready, so a hundred such requests
// meet both).
func TestSearchSlotsOfClientsGone(t *testing.T) {
	cache := publish.NewCache(fakeMembers{}, fakeStates{}, "https://agg.example")
	if err := cache.Configure([]feed.Channel{{ID: "news", Title: "News", Limit: 10, Sources: []string{"src"}}}, []feed.Source{{ID: "src"}}); err != nil {
		t.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{Search: indexedSources{"src"}, Items: noItems{}, Members: fakeMembers{}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		req := httptest.NewRequest("GET", "/search?q=x&format=json", nil).WithContext(ctx)
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
	if n := len(s.searching); n != 0 {
		t.Fatalf("%d search slots held after 100 searches whose clients were gone, want 0", n)
	}
}
