package main

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestFeedparserConditionalGET drives the Universal Feed Parser's
// conditional GET against the running server: given the ETag and
// Last-Modified of a first fetch, the second gets 304.
func TestFeedparserConditionalGET(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import feedparser").Run(); err != nil {
		t.Skip("python3-feedparser is not installed (apt-get install -y python3-feedparser): skipping")
	}
	o := newOrigin(t)
	base, _ := startServe(t, "-config", writeConfig(t, o.URL, ""))
	waitForItems(t, base, "the-peninsula", 2)
	for _, f := range []string{"atom", "rss", "json"} {
		u := base + "/feeds/the-peninsula." + f
		script := `import sys, feedparser
d = feedparser.parse(sys.argv[1])
e = feedparser.parse(sys.argv[1], etag=d.get("etag"), modified=d.get("modified"))
print(d.status, len(d.entries), e.status, d.get("etag"))`
		out, err := exec.Command(python, "-c", script, u).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out)
		}
		// Debian's feedparser reads no JSON Feed: only its statuses count there.
		fields := strings.Fields(string(out))
		if len(fields) < 3 || fields[0] != "200" || (f != "json" && fields[1] != "2") || fields[2] != "304" {
			t.Errorf("%s: feedparser says %q, want 200 with 2 entries, then 304", f, out)
		}
	}
}

// countingProxy forwards to target and counts response statuses per path.
type countingProxy struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]map[int]int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{counts: map[string]map[int]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		path := resp.Request.URL.Path
		if p.counts[path] == nil {
			p.counts[path] = map[int]int{}
		}
		p.counts[path][resp.StatusCode]++
		return nil
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

func (p *countingProxy) count(path string, status int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[path][status]
}

// TestNewsboat subscribes newsboat to every channel document, reloads
// twice, and checks that it lists the entries of each feed and that the
// second reload fetched no body (every request a 304).
func TestNewsboat(t *testing.T) {
	nb, err := exec.LookPath("newsboat")
	if err != nil {
		t.Skip("newsboat is not installed (apt-get install -y newsboat): skipping")
	}
	o := newOrigin(t)
	base, _ := startServe(t, "-config", writeConfig(t, o.URL, ""))
	waitForItems(t, base, "the-peninsula", 2)
	waitForItems(t, base, "think-tanks", 3)
	proxy := newCountingProxy(t, base)

	dir := t.TempDir()
	var urls, paths []string
	for _, ch := range []string{"the-peninsula", "think-tanks"} {
		for _, f := range []string{"atom", "rss"} { // newsboat 2.21 reads no JSON Feed
			p := "/feeds/" + ch + "." + f
			paths = append(paths, p)
			urls = append(urls, proxy.URL+p)
		}
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	urlsFile := write("urls", strings.Join(urls, "\n")+"\n")
	config := write("config", "reload-threads 1\n")
	cache := filepath.Join(dir, "cache.db")
	reload := func() {
		cmd := exec.Command(nb, "-u", urlsFile, "-C", config, "-c", cache, "-x", "reload")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("newsboat reload: %v\n%s", err, out)
		}
	}
	// newsboat 2.21 stores a feed's ETag and Last-Modified only once the
	// feed is in its cache: the reload that subscribes cannot keep them,
	// so the one after it is the first that can be conditional.
	reload()
	reload()
	first := map[string]int{}
	for _, p := range paths {
		first[p] = proxy.count(p, 200)
		if first[p] != 2 {
			t.Errorf("%s: the first two reloads made %d full responses, want 2", p, first[p])
		}
	}
	reload()
	for _, p := range paths {
		if got := proxy.count(p, 200); got != first[p] {
			t.Errorf("%s: second reload fetched a body (%d responses 200)", p, got)
		}
		if got := proxy.count(p, http.StatusNotModified); got != 1 {
			t.Errorf("%s: second reload got %d responses 304, want 1", p, got)
		}
	}

	// newsboat's cache lists the entries of every feed. It keeps one row
	// per guid however many feeds carry it, so the check is by guid.
	guids := newsboatGUIDs(t, cache)
	for _, p := range paths {
		_, body := get(t, base+p)
		var doc struct {
			IDs   []string `xml:"entry>id"`
			GUIDs []string `xml:"channel>item>guid"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		ids := append(doc.IDs, doc.GUIDs...)
		if len(ids) == 0 {
			t.Errorf("%s: no entries", p)
		}
		for _, id := range ids {
			if !guids[id] {
				t.Errorf("%s: newsboat does not list entry %s", p, id)
			}
		}
	}
}

// newsboatGUIDs reads, with Python's sqlite3 (the Go standard library has
// no SQLite driver), the guids of the items in newsboat's cache.
func newsboatGUIDs(t *testing.T, cache string) map[string]bool {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", `import sqlite3, sys
for (g,) in sqlite3.connect(sys.argv[1]).execute("select guid from rss_item where deleted = 0"):
    print(g)`, cache).CombinedOutput()
	if err != nil {
		t.Skipf("cannot read newsboat's cache with python3's sqlite3: %v\n%s", err, out)
	}
	m := map[string]bool{}
	for _, g := range strings.Fields(string(out)) {
		m[g] = true
	}
	return m
}
