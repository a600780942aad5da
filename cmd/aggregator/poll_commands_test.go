package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// pageOrigin is an origin with a few pages: a feed, an HTML page announcing two
// feeds, a page announcing none and a source that is gone. It records the
// User-Agent of every request.
type pageOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	agents []string
}

func newPageOrigin(t *testing.T) *pageOrigin {
	t.Helper()
	s := &pageOrigin{}
	feed, err := os.ReadFile(filepath.Join(testdata, "peninsula.rss"))
	if err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.agents = append(s.agents, r.UserAgent())
		s.mu.Unlock()
		switch r.URL.Path {
		case "/feed.rss":
			w.Header().Set("Content-Type", "application/rss+xml")
			w.Write(feed)
		case "/blog/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!DOCTYPE html><html><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="../feed.rss">
<link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml">
<link rel="stylesheet" href="/style.css">
</head><body><p>Posts</p></body></html>`)
		case "/plain.html":
			io.WriteString(w, `<!DOCTYPE html><html><head><title>Nothing</title></head><body></body></html>`)
		case "/gone.rss":
			http.Error(w, "gone", http.StatusGone)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *pageOrigin) userAgents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.agents...)
}

// siteConfig writes a feeds.yaml whose sources are the given paths of s.
func pageOriginConfig(t *testing.T, s *pageOrigin, fetchExtra string, paths ...string) (cfgPath, dbPath string) {
	t.Helper()
	dbPath = filepath.Join(t.TempDir(), "aggregator.db")
	var b strings.Builder
	fmt.Fprintf(&b, "server: { listen: \"127.0.0.1:0\" }\nstorage: { path: %q }\nfetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s%s }\nsources:\n", dbPath, fetchExtra)
	for i, p := range paths {
		fmt.Fprintf(&b, "  - { id: s%d, url: %q }\n", i, s.URL+p)
	}
	b.WriteString("channels:\n  - { id: all, title: All, sources: [")
	for i := range paths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "s%d", i)
	}
	b.WriteString("] }\n")
	cfgPath = filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

func TestDiscover(t *testing.T) {
	s := newPageOrigin(t)
	cfg, _ := pageOriginConfig(t, s, "", "/feed.rss")
	discover := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"discover"}, args...), noenv, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}

	t.Run("page-with-feeds", func(t *testing.T) {
		out, errOut, err := discover("-config", cfg, s.URL+"/blog/")
		if err != nil {
			t.Fatalf("err=%v\n%s", err, errOut)
		}
		if got, want := out, s.URL+"/feed.rss\n"+s.URL+"/atom.xml\n"; got != want {
			t.Fatalf("stdout=%q, want %q", got, want)
		}
	})
	t.Run("feed", func(t *testing.T) {
		out, _, err := discover("-config", cfg, s.URL+"/feed.rss")
		if err != nil || !strings.Contains(out, "is itself a feed (rss: \"The Peninsula\"") {
			t.Fatalf("err=%v stdout=%q", err, out)
		}
	})
	t.Run("page-without-feeds", func(t *testing.T) {
		_, errOut, err := discover("-config", cfg, s.URL+"/plain.html")
		if !errors.Is(err, errReported) || !strings.Contains(errOut, "links to no feed (HTML page)") {
			t.Fatalf("err=%v stderr=%q, want errReported and a message", err, errOut)
		}
	})
	t.Run("private-address-refused-without-config", func(t *testing.T) {
		dir := t.TempDir() // no feeds.yaml here: the defaults, which refuse loopback
		wd, _ := os.Getwd()
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		defer os.Chdir(wd)
		_, _, err := discover(s.URL + "/blog/")
		if err == nil || !strings.Contains(err.Error(), "non-public address") {
			t.Fatalf("err=%v, want the private-address refusal", err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if _, _, err := discover("-config", cfg); exitCode(err) != 2 {
			t.Fatalf("discover without URL: err=%v, want exit status 2", err)
		}
	})
}

func TestFetchShowsStateNotAFeedAndRetirement(t *testing.T) {
	s := newPageOrigin(t)
	cfg, dbPath := pageOriginConfig(t, s, ", contact: \"https://kpolicy.example/contact\"", "/feed.rss", "/plain.html", "/gone.rss", "/blog/")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr)
	if !errors.Is(err, errReported) {
		t.Fatalf("err=%v, want errReported\n%s", err, stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"ITEMS", "ERRS", "LAST SUCCESS", "NEXT POLL", "  " + s.URL + "/feed.rss\n",
		"not a feed: HTML page announces no feed",
		"410 Gone", "retired:",
		// The blog's home page is followed to the first feed it announces.
		"  " + s.URL + "/feed.rss\n  feed discovered on " + s.URL + "/blog/\n",
		"discovered: " + s.URL + "/blog/ announces the feed " + s.URL + "/feed.rss",
		"4 sources polled, 2 failed, 2 new items",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first fetch output lacks %q:\n%s", want, out)
		}
	}
	for _, ua := range s.userAgents() {
		if want := "aggregator/" + app.Version() + " (+https://kpolicy.example/contact)"; ua != want {
			t.Errorf("User-Agent=%q, want %q", ua, want)
		}
	}

	// The second pass asks nothing of the retired source.
	requests := len(s.userAgents())
	stdout.Reset()
	run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr)
	out = stdout.String()
	if got, want := len(s.userAgents())-requests, 3; got != want {
		t.Errorf("second fetch made %d requests, want %d (none to the retired source, the discovered feed only for the blog)", got, want)
	}
	for _, want := range []string{"retired", "  feed discovered on " + s.URL + "/blog/\n", "3 sources polled, 1 failed, 0 new items, 0 updated, 0 merged into other sources' stories, 1 retired (not polled)"} {
		if !strings.Contains(out, want) {
			t.Errorf("second fetch output lacks %q:\n%s", want, out)
		}
	}

	// The recorded error is on the source's state, as /status shows it;
	// each fetch reset the backoff, so it counts one consecutive error.
	db, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.State(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LastError, "not a feed: HTML page announces no feed") || st.Errors != 1 {
		t.Errorf("s1 LastError=%q Errors=%d", st.LastError, st.Errors)
	}
	if st, _ := db.State(context.Background(), "s3"); st.DiscoveredURL != s.URL+"/feed.rss" || st.Errors != 0 {
		t.Errorf("s3 DiscoveredURL=%q Errors=%d LastError=%q, want the blog's feed followed", st.DiscoveredURL, st.Errors, st.LastError)
	}
	if st, _ := db.State(context.Background(), "s2"); !st.Retired {
		t.Errorf("s2 not retired after 410")
	}
}

func TestCheckWarnsAboutShortIntervalsOnPublicHosts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feeds.yaml")
	cfg := `fetch: { contact: "https://kpolicy.example/contact" }
sources:
  - { id: busy, url: "https://news.example.kr/rss", interval: 1m }
  - { id: local, url: "http://127.0.0.1:8000/rss", interval: 1s }
channels:
  - { id: all, title: All, sources: [busy, local] }
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"check", "-config", path}, noenv, &stdout, &stderr); err != nil {
		t.Fatalf("check failed on a valid config with a short interval: %v\n%s", err, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "warning:") || !strings.Contains(got, "sources[0].interval: 1m polls a public host more often than every 5m") {
		t.Errorf("stderr=%q, want a warning about sources[0].interval", got)
	}
	if strings.Contains(stderr.String(), "sources[1]") {
		t.Errorf("stderr=%q warns about a loopback source", stderr.String())
	}
	if !strings.Contains(stdout.String(), "ok (2 sources, 1 channels)") {
		t.Errorf("stdout=%q", stdout.String())
	}
}
