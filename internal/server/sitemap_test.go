package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

type sitemapDoc struct {
	XMLName xml.Name
	URLs    []struct {
		Loc     string `xml:"loc"`
		Lastmod string `xml:"lastmod"`
	} `xml:"url"`
	Sitemaps []struct {
		Loc     string `xml:"loc"`
		Lastmod string `xml:"lastmod"`
	} `xml:"sitemap"`
}

func parseSitemap(t *testing.T, body string) sitemapDoc {
	t.Helper()
	var d sitemapDoc
	if err := xml.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("sitemap is not XML: %v\n%.300s", err, body)
	}
	if d.XMLName.Space != "http://www.sitemaps.org/schemas/sitemap/0.9" {
		t.Errorf("sitemap root %+v", d.XMLName)
	}
	return d
}

func (d sitemapDoc) locs() []string {
	var out []string
	for _, u := range d.URLs {
		out = append(out, u.Loc)
	}
	return out
}

func TestRobots(t *testing.T) {
	s := newSite(t)
	resp, body := do(t, s, "GET", "/robots.txt")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want := "# aggregator\nUser-agent: *\nDisallow: /admin/\nDisallow: /status\nDisallow: /search\nDisallow: /websub\n" +
		"Disallow: /metrics\nDisallow: /healthz\nDisallow: /readyz\nAllow: /\n\nSitemap: https://agg.example/sitemap.xml\n"
	if body != want {
		t.Errorf("robots.txt:\n%s\nwant:\n%s", body, want)
	}
	s.BaseURL = "https://example.org/korea/"
	_, body = do(t, s, "GET", "/robots.txt")
	if !strings.Contains(body, "Disallow: /korea/admin/\n") || !strings.Contains(body, "Allow: /korea/\n") ||
		!strings.HasSuffix(body, "Sitemap: https://example.org/korea/sitemap.xml\n") {
		t.Errorf("robots.txt under a path:\n%s", body)
	}
}

// TestSitemap: the sitemap lists the home page, the channel pages and the
// item page of every item a channel publishes, each once, with dates, and
// no item of no channel; it answers conditional requests, and is built
// again once what it lists changed (at most once a minute).
func TestSitemap(t *testing.T) {
	s := newSite(t)
	if _, err := s.db.SavePoll(context.Background(), "other", []feed.Item{{Key: "o1", Title: "Unpublished", Published: s.first.Published, Dated: true}}, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	resp, body := do(t, s, "GET", "/sitemap.xml")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	d := parseSitemap(t, body)
	locs := d.locs()
	if len(locs) != 2+46 || locs[0] != "https://agg.example/channels/news" || locs[len(locs)-1] != "https://agg.example/" {
		t.Fatalf("%d URLs: first %q, last %q; want the channel page, 46 items, the home page", len(locs), locs[0], locs[len(locs)-1])
	}
	if got, want := locs[1], "https://agg.example/items/"+s.first.Ref(); got != want {
		t.Errorf("first item %q, want the newest, %q", got, want)
	}
	if slices.Contains(locs, "https://agg.example/items/"+feed.ItemRef("other", "o1")) {
		t.Error("the sitemap lists an item no channel publishes")
	}
	slices.Sort(locs)
	if len(slices.Compact(locs)) != len(d.URLs) {
		t.Error("the sitemap lists a page twice")
	}
	// The newest item, k44, was published 44 hours after the fixture's
	// base (2026-05-01T09:00Z).
	if got, want := d.URLs[1].Lastmod, "2026-05-03T05:00:00Z"; got != want || !s.first.Published.Equal(time.Date(2026, 5, 3, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("newest item's lastmod %q, want %q", got, want)
	}
	for _, u := range d.URLs {
		if _, err := time.Parse(time.RFC3339, u.Lastmod); err != nil {
			t.Errorf("%s: lastmod %q: %v", u.Loc, u.Lastmod, err)
		}
	}

	// Conditional requests, either representation's tag; gzip.
	tag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if tag == "" || lm == "" {
		t.Fatalf("no validators: ETag %q Last-Modified %q", tag, lm)
	}
	if resp, _ := do(t, s, "GET", "/sitemap.xml", "If-None-Match", tag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/sitemap.xml", "If-Modified-Since", lm); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", resp.StatusCode)
	}
	resp, gz := do(t, s, "GET", "/sitemap.xml", "Accept-Encoding", "gzip")
	zr, err := gzip.NewReader(strings.NewReader(gz))
	if err != nil {
		t.Fatalf("gzip: %v (%s)", err, resp.Header.Get("Content-Encoding"))
	}
	unzipped, _ := io.ReadAll(zr)
	if string(unzipped) != body || resp.Header.Get("ETag") == tag || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("gzip: ETag %q (identity %q), Vary %q, same bytes %v", resp.Header.Get("ETag"), tag, resp.Header.Get("Vary"), string(unzipped) == body)
	}
	if resp, _ := do(t, s, "GET", "/sitemap.xml", "If-None-Match", tag, "Accept-Encoding", "gzip"); resp.StatusCode != 304 {
		t.Errorf("If-None-Match with the identity tag, asking for gzip: %d", resp.StatusCode)
	}

	// A new item: listed once a minute has passed, not before.
	newer := feed.Item{Key: "new", Link: "https://yna.example/new", Title: "새 소식", Published: s.first.Published.Add(time.Hour), Dated: true}
	if _, err := s.db.SavePoll(context.Background(), "yonhap", []feed.Item{newer}, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	s.members.Kick()
	if err := s.members.WaitCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	newLoc := "https://agg.example/items/" + feed.ItemRef("yonhap", "new")
	now = now.Add(30 * time.Second)
	if _, body := do(t, s, "GET", "/sitemap.xml"); strings.Contains(body, newLoc) {
		t.Error("the sitemap was built again within a minute")
	}
	now = now.Add(31 * time.Second)
	resp, body = do(t, s, "GET", "/sitemap.xml")
	if !strings.Contains(body, newLoc) || resp.Header.Get("ETag") == tag {
		t.Error("the sitemap does not list a new item a minute later")
	}
	if resp, _ := do(t, s, "GET", "/sitemap.xml", "If-None-Match", tag); resp.StatusCode != 200 {
		t.Errorf("the old tag after a change: %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/sitemaps/1.xml"); resp.StatusCode != 404 {
		t.Errorf("/sitemaps/1.xml of a sitemap in one file: %d, want 404", resp.StatusCode)
	}
}

// TestSitemapIndex: past one file's limits the sitemap is an index of
// files within them, which list every page once between them.
func TestSitemapIndex(t *testing.T) {
	s := newSite(t)
	s.maps.maxURLs = 10
	_, body := do(t, s, "GET", "/sitemap.xml")
	d := parseSitemap(t, body)
	if d.XMLName.Local != "sitemapindex" || len(d.Sitemaps) != 5 {
		t.Fatalf("%s of %d sitemaps, want an index of 5 (48 URLs, 10 a file):\n%s", d.XMLName.Local, len(d.Sitemaps), body)
	}
	var all []string
	for i, sm := range d.Sitemaps {
		path := strings.TrimPrefix(sm.Loc, "https://agg.example")
		if want := "/sitemaps/" + string(rune('1'+i)) + ".xml"; path != want {
			t.Errorf("sitemap %d at %q, want %q", i, sm.Loc, want)
		}
		if _, err := time.Parse(time.RFC3339, sm.Lastmod); err != nil {
			t.Errorf("%s: lastmod %q", sm.Loc, sm.Lastmod)
		}
		resp, part := do(t, s, "GET", path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		pd := parseSitemap(t, part)
		if n := len(pd.URLs); n > 10 || n == 0 {
			t.Errorf("%s holds %d URLs", path, n)
		}
		all = append(all, pd.locs()...)
	}
	slices.Sort(all)
	if len(all) != 48 || len(slices.Compact(all)) != 48 {
		t.Errorf("the parts list %d URLs, want 48 distinct", len(all))
	}
	for _, path := range []string{"/sitemaps/6.xml", "/sitemaps/0.xml", "/sitemaps/01.xml", "/sitemaps/x.xml", "/sitemaps/1"} {
		if resp, _ := do(t, s, "GET", path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	s.maps.maxURLs, s.maps.maxBytes, s.maps.built = 0, 2000, nil // by size: 2,000 bytes a file
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	_, body = do(t, s, "GET", "/sitemap.xml")
	if d := parseSitemap(t, body); len(d.Sitemaps) < 3 {
		t.Errorf("cut by size: %d files", len(d.Sitemaps))
	}
	for i := 1; ; i++ {
		resp, part := do(t, s, "GET", "/sitemaps/"+string(rune('0'+i))+".xml")
		if resp.StatusCode == 404 {
			break
		}
		if len(part) > 2000 {
			t.Errorf("file %d is %d bytes, over 2,000", i, len(part))
		}
	}
}

// TestSitemapValid checks the sitemap, its index form and robots.txt's
// sitemap line against the protocol's schema (testdata/sitemap.rnc), with
// jing when it is installed.
func TestSitemapValid(t *testing.T) {
	jing, err := exec.LookPath("jing")
	if err != nil {
		t.Skip("jing is not installed (apt-get install jing): skipping the schema check")
	}
	s := newSite(t)
	dir := t.TempDir()
	var files []string
	write := func(name, body string) {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	_, body := do(t, s, "GET", "/sitemap.xml")
	write("sitemap.xml", body)
	s.maps.maxURLs, s.maps.built = 10, nil
	_, body = do(t, s, "GET", "/sitemap.xml")
	write("index.xml", body)
	_, body = do(t, s, "GET", "/sitemaps/2.xml")
	write("part.xml", body)
	out, err := exec.Command(jing, append([]string{"-c", "testdata/sitemap.rnc"}, files...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(javaWarnings(out))) > 0 {
		t.Errorf("jing: %v\n%s", err, out)
	}
}

// javaWarnings drops the lines Debian's java launcher adds about optional
// jars, which are not the schema's verdict.
func javaWarnings(out []byte) []byte {
	var keep [][]byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if !bytes.Contains(l, []byte("[warning]")) {
			keep = append(keep, l)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// BenchmarkSitemap measures the sitemap of a 100,000-item channel: a
// build (what the first request after a change pays, at most once a
// minute), and a request served from the build (every other one).
//
//	go test -run '^$' -bench Sitemap -benchtime 5x ./internal/server/
func BenchmarkSitemap(b *testing.B) {
	dir := b.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "a.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const total, batch = 100_000, 5_000
	for n := 0; n < total; n += batch {
		items := make([]feed.Item, batch)
		for i := range items {
			k := n + i
			items[i] = feed.Item{Key: fmt.Sprintf("k%06d", k), Link: fmt.Sprintf("https://src.example/%d", k), Title: fmt.Sprintf("Item %d", k),
				Published: base.Add(time.Duration(k) * time.Minute), Dated: true}
		}
		if _, err := db.SavePoll(context.Background(), fmt.Sprintf("src%d", n/batch%4), items, feed.SourceState{}); err != nil {
			b.Fatal(err)
		}
	}
	channels := []feed.Channel{{ID: "all", Title: "All", Sources: []string{"src0", "src1", "src2", "src3"}, Limit: 30}}
	sources := []feed.Source{{ID: "src0"}, {ID: "src1"}, {ID: "src2"}, {ID: "src3"}}
	members := membership.New(db, membership.Options{})
	if err := members.Configure(context.Background(), channels, sources); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { members.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := members.WaitCurrent(ctx); err != nil {
		b.Fatal(err)
	}
	cache := publish.NewCache(members, db, "https://agg.example")
	if err := cache.Configure(channels, sources); err != nil {
		b.Fatal(err)
	}
	s := New(cache, fakeHealth{}, Options{Extras: Extras{BaseURL: "https://agg.example", Items: db, Members: members}})
	get := func(b *testing.B) int {
		req := httptest.NewRequest("GET", "/sitemap.xml", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d", rec.Code)
		}
		return rec.Body.Len()
	}
	b.Run("build", func(b *testing.B) {
		var n int
		for b.Loop() {
			s.maps.mu.Lock()
			s.maps.built = nil
			s.maps.mu.Unlock()
			n = get(b)
		}
		d := parseSitemapBytes(b, s.maps.built.files[0].body)
		b.ReportMetric(float64(len(s.maps.built.files)), "files")
		b.ReportMetric(float64(n), "gzip-bytes")
		if d.XMLName.Local != "sitemapindex" {
			b.Errorf("100,001 URLs in one %s", d.XMLName.Local)
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			get(b)
		}
	})
}

func parseSitemapBytes(b *testing.B, body []byte) sitemapDoc {
	var d sitemapDoc
	if err := xml.Unmarshal(body, &d); err != nil {
		b.Fatal(err)
	}
	return d
}
