package fetch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// site is an origin whose pages the test may change between polls: path →
// status and body; an HTML body is served as text/html, anything else as RSS
// with an ETag, honoured.
type site struct {
	*origin
	mu    sync.Mutex
	pages map[string]sitePage
}

type sitePage struct {
	status int
	body   string
}

func newSite(t *testing.T) *site {
	s := &site{pages: map[string]sitePage{}}
	s.origin = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		pg, ok := s.pages[r.URL.Path]
		s.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case pg.status != 0:
			http.Error(w, http.StatusText(pg.status), pg.status)
		case strings.HasPrefix(pg.body, "<!DOCTYPE html>"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, pg.body)
		default:
			etag := fmt.Sprintf(`"%d"`, len(pg.body))
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Content-Type", "application/rss+xml")
			io.WriteString(w, pg.body)
		}
	})
	return s
}

func (s *site) set(path string, pg sitePage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[path] = pg
}

// paths are the paths requested so far, with "?" and the If-None-Match
// sent, if any.
func (s *site) paths() []string {
	var out []string
	for _, r := range s.requests() {
		p := r.URL.Path
		if v := r.Header.Get("If-None-Match"); v != "" {
			p += " " + v
		}
		out = append(out, p)
	}
	return out
}

// homePage is an HTML page announcing the given feeds, each as
// {type, title, href}.
func homePage(links ...[3]string) sitePage {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Home</title>\n")
	for _, l := range links {
		fmt.Fprintf(&b, "<link rel=\"alternate\" type=%q title=%q href=%q>\n", l[0], l[1], l[2])
	}
	b.WriteString("</head><body><p>Posts</p></body></html>")
	return sitePage{body: b.String()}
}

func rssFeed(items ...string) sitePage {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><link>https://blog.example/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, "<item><title>%s</title><link>https://blog.example/%s</link><guid>%s</guid></item>", it, it, it)
	}
	b.WriteString("</channel></rss>")
	return sitePage{body: b.String()}
}

const rssType, atomType = "application/rss+xml", "application/atom+xml"

func pathsEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("%s: requests %q, want %q", what, got, want)
	}
}

// TestPollFollowsHomePageToItsFeed: a source configured as a blog's home
// page is followed, in the same poll, to the page's own feed rather than its
// comments feed; the feed's URL is kept and later polls are conditional GETs
// of the feed, not of the page.
func TestPollFollowsHomePageToItsFeed(t *testing.T) {
	s := newSite(t)
	s.set("/", homePage(
		[3]string{rssType, "Blog » Comments Feed", "/comments/feed/"},
		[3]string{rssType, "Blog » Feed", "/feed/"}))
	s.set("/feed/", rssFeed("a", "b"))
	s.set("/comments/feed/", rssFeed("c1"))
	store := newMemStore()
	p, _ := newTestPoller(t, parse.New(), store, 0)
	src := feed.Source{ID: "blog", URL: s.URL + "/", Interval: time.Hour}

	res := p.Poll(t.Context(), src)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got, want := res.Counts.New, 2; got != want {
		t.Errorf("new items=%d, want %d", got, want)
	}
	st := store.state("blog")
	if got, want := st.DiscoveredURL, s.URL+"/feed/"; got != want {
		t.Errorf("DiscoveredURL=%q, want %q", got, want)
	}
	if got, want := res.URL, s.URL+"/feed/"; got != want {
		t.Errorf("Result.URL=%q, want %q", got, want)
	}
	if want := "discovered: " + s.URL + "/ announces the feed " + s.URL + "/feed/"; !strings.Contains(st.Warning, want) || res.Warning != st.Warning {
		t.Errorf("Warning=%q (result %q), want it to say %q", st.Warning, res.Warning, want)
	}
	if st.Errors != 0 || st.LastError != "" || st.Retired {
		t.Errorf("state after discovery: %+v", st)
	}

	res = p.Poll(t.Context(), src)
	if res.Err != nil || !res.NotModified {
		t.Fatalf("second poll: err=%v NotModified=%v, want a 304 of the feed", res.Err, res.NotModified)
	}
	pathsEqual(t, "two polls", s.paths(), []string{"/", "/feed/", `/feed/ "` + fmt.Sprint(len(rssFeed("a", "b").body)) + `"`})
	if st := store.state("blog"); st.DiscoveredURL != s.URL+"/feed/" || st.Warning != "" {
		t.Errorf("after the 304: DiscoveredURL=%q Warning=%q", st.DiscoveredURL, st.Warning)
	}
}

// TestPollRediscoversWhenTheFeedGoes: a discovered feed that answers 404 or
// 410 is forgotten, the page read again and its new feed followed, in one
// poll; the source is not retired by the feed's 410.
func TestPollRediscoversWhenTheFeedGoes(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newSite(t)
			s.set("/", homePage([3]string{atomType, "Atom", "/old.xml"}))
			s.set("/old.xml", rssFeed("a"))
			store := newMemStore()
			p, _ := newTestPoller(t, parse.New(), store, 0)
			src := feed.Source{ID: "blog", URL: s.URL + "/", Interval: time.Hour}
			if res := p.Poll(t.Context(), src); res.Err != nil {
				t.Fatal(res.Err)
			}

			s.set("/old.xml", sitePage{status: status})
			s.set("/", homePage([3]string{rssType, "RSS", "/new.xml"}))
			s.set("/new.xml", rssFeed("a", "b"))
			res := p.Poll(t.Context(), src)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			pathsEqual(t, "polls", s.paths(), []string{"/", "/old.xml", "/old.xml " + `"` + fmt.Sprint(len(rssFeed("a").body)) + `"`, "/", "/new.xml"})
			st := store.state("blog")
			if got, want := st.DiscoveredURL, s.URL+"/new.xml"; got != want {
				t.Errorf("DiscoveredURL=%q, want %q", got, want)
			}
			if st.Retired || res.Retired {
				t.Errorf("the source was retired by its old feed's %d", status)
			}
			if want := "the discovered feed " + s.URL + "/old.xml is gone"; !strings.Contains(st.Warning, want) {
				t.Errorf("Warning=%q, want it to say %q", st.Warning, want)
			}
			if got, want := res.Counts.New, 1; got != want {
				t.Errorf("new items=%d, want %d", got, want)
			}
		})
	}
}

// TestPollRediscoveryOfTheSameGoneFeed: a page that still announces the
// feed that answered 404 is not followed to it again in the same poll.
func TestPollRediscoveryOfTheSameGoneFeed(t *testing.T) {
	s := newSite(t)
	s.set("/", homePage([3]string{rssType, "RSS", "/feed"}))
	s.set("/feed", rssFeed("a"))
	store := newMemStore()
	p, _ := newTestPoller(t, parse.New(), store, 0)
	src := feed.Source{ID: "blog", URL: s.URL + "/", Interval: time.Hour}
	if res := p.Poll(t.Context(), src); res.Err != nil {
		t.Fatal(res.Err)
	}
	s.set("/feed", sitePage{status: http.StatusNotFound})
	res := p.Poll(t.Context(), src)
	want := "the discovered feed " + s.URL + "/feed is gone: " + s.URL + "/: not a feed: HTML page (it links to feeds: " + s.URL + "/feed); not followed: the page still announces " + s.URL + "/feed, which is gone"
	if res.Err == nil || !strings.HasSuffix(res.Err.Error(), want) {
		t.Fatalf("err=%v\nwant it to end %q", res.Err, want)
	}
	if got := len(s.paths()); got != 4 {
		t.Errorf("requests %q, want 4 (two polls: page and feed, then feed and page)", s.paths())
	}
	if st := store.state("blog"); st.DiscoveredURL != "" || st.Errors != 1 || st.Retired {
		t.Errorf("state %+v", st)
	}
}

// TestPollDiscoveryFailures: what a page that cannot be followed records,
// and how many requests it costs.
func TestPollDiscoveryFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pages map[string]sitePage
		want  string   // in the recorded error
		paths []string // requested
	}{
		{"page announcing nothing", map[string]sitePage{"/": homePage()},
			"not a feed: HTML page announces no feed", []string{"/"}},
		{"page announcing itself", map[string]sitePage{"/": homePage([3]string{rssType, "RSS", "/"})},
			"a discovery loop", []string{"/"}},
		{"feed page that is the same page again", map[string]sitePage{
			"/":     homePage([3]string{rssType, "RSS", "/feed"}),
			"/feed": homePage([3]string{rssType, "RSS", "/"})},
			"a discovery loop", []string{"/", "/feed"}},
		{"a second hop", map[string]sitePage{
			"/":      homePage([3]string{rssType, "RSS", "/feed"}),
			"/feed":  homePage([3]string{rssType, "RSS", "/feed2"}),
			"/feed2": rssFeed("a")},
			"one discovery hop a poll", []string{"/", "/feed"}},
		{"announced feed missing", map[string]sitePage{"/": homePage([3]string{rssType, "RSS", "/feed"})},
			"discovered on SITE/: fetch SITE/feed: unexpected HTTP status 404 Not Found", []string{"/", "/feed"}},
		{"announced feed gone", map[string]sitePage{
			"/":     homePage([3]string{rssType, "RSS", "/feed"}),
			"/feed": {status: http.StatusGone}},
			"unexpected HTTP status 410 Gone", []string{"/", "/feed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			for path, pg := range tc.pages {
				s.set(path, pg)
			}
			store := newMemStore()
			p, _ := newTestPoller(t, parse.New(), store, 0)
			src := feed.Source{ID: "blog", URL: s.URL + "/", Interval: time.Hour}
			res := p.Poll(t.Context(), src)
			want := strings.ReplaceAll(tc.want, "SITE", s.URL)
			if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
				t.Fatalf("err=%v, want it to say %q", res.Err, want)
			}
			st := store.state("blog")
			if st.LastError == "" || st.Errors != 1 || st.DiscoveredURL != "" || st.Retired {
				t.Errorf("state: LastError=%q Errors=%d DiscoveredURL=%q Retired=%v, want the failure recorded, nothing discovered, not retired",
					st.LastError, st.Errors, st.DiscoveredURL, st.Retired)
			}
			pathsEqual(t, "poll", s.paths(), tc.paths)
			// The next poll starts from the page again.
			p.Poll(t.Context(), src)
			if got := s.paths(); got[len(tc.paths)] != "/" {
				t.Errorf("next poll requested %q first, want the page", got[len(tc.paths)])
			}
		})
	}
}

// TestPollDiscoveryKeepsTheClientsGuards: a page announcing a feed on a
// private address is not followed there when private addresses are
// refused, and a followed feed's redirects count against the limit.
func TestPollDiscoveryKeepsTheClientsGuards(t *testing.T) {
	private := newSite(t)
	private.set("/feed", rssFeed("a"))
	// The page is answered in-process for a public-looking name; every
	// other request goes to the client's own guarded transport.
	guarded := NewClient(Options{}).HTTPClient().Transport
	page := homePage([3]string{rssType, "RSS", private.URL + "/feed"}).body
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != "www.example.org" {
			return guarded.RoundTrip(r)
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "text/html")
		io.WriteString(rec, page)
		return rec.Result(), nil
	})
	c := NewClient(Options{Transport: tr, MaxBody: 1 << 16})
	t.Cleanup(c.CloseIdleConnections)
	store := newMemStore()
	p := NewPoller(c, parse.New(), store, PollerOptions{})
	res := p.Poll(t.Context(), feed.Source{ID: "blog", URL: "http://www.example.org/", Interval: time.Hour})
	if !errors.Is(res.Err, ErrPrivateAddress) {
		t.Fatalf("err=%v, want ErrPrivateAddress", res.Err)
	}
	if n := len(private.requests()); n != 0 {
		t.Errorf("the private origin got %d requests", n)
	}

	// Redirects of the followed feed: more than MaxRedirects is a failure.
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/r") {
			http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, homePage([3]string{rssType, "RSS", "/r0"}).body)
	})
	p2 := NewPoller(testClient(t, Options{MaxRedirects: 2}), parse.New(), store, PollerOptions{})
	res = p2.Poll(t.Context(), feed.Source{ID: "loop", URL: o.URL + "/", Interval: time.Hour})
	if !errors.Is(res.Err, ErrTooManyRedirects) {
		t.Fatalf("err=%v, want ErrTooManyRedirects", res.Err)
	}
}

// TestPollForgetsTheDiscoveredFeedWhenTheURLChanges: a discovered feed
// belongs to the configured page; another url in feeds.yaml starts afresh.
func TestPollForgetsTheDiscoveredFeedWhenTheURLChanges(t *testing.T) {
	s := newSite(t)
	s.set("/", homePage([3]string{rssType, "RSS", "/feed"}))
	s.set("/feed", rssFeed("a"))
	s.set("/other/", homePage([3]string{rssType, "RSS", "/other/feed"}))
	s.set("/other/feed", rssFeed("b"))
	store := newMemStore()
	p, _ := newTestPoller(t, parse.New(), store, 0)
	if res := p.Poll(t.Context(), feed.Source{ID: "blog", URL: s.URL + "/", Interval: time.Hour}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := p.Poll(t.Context(), feed.Source{ID: "blog", URL: s.URL + "/other/", Interval: time.Hour}); res.Err != nil {
		t.Fatal(res.Err)
	}
	pathsEqual(t, "polls", s.paths(), []string{"/", "/feed", "/other/", "/other/feed"})
	if got, want := store.state("blog").DiscoveredURL, s.URL+"/other/feed"; got != want {
		t.Errorf("DiscoveredURL=%q, want %q", got, want)
	}
}
