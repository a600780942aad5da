package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/feed"
)

// corpusDir returns $AGGREGATOR_CORPUS/sub, skipping the test when the
// variable is unset.
func corpusDir(tb testing.TB, sub string) string {
	tb.Helper()
	root := os.Getenv("AGGREGATOR_CORPUS")
	if root == "" {
		tb.Skip("AGGREGATOR_CORPUS is unset; set it to the shared corpus (../shared/corpus) to run this test")
	}
	dir := filepath.Join(root, sub)
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("corpus: %v", err)
	}
	return dir
}

func corpusFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// corpusURL is the URL each corpus file is parsed as coming from, so that
// relative links resolve the same way on both sides of the comparison.
func corpusURL(dir, path string) string {
	rel, _ := filepath.Rel(dir, path)
	return "https://corpus.example/" + filepath.ToSlash(rel)
}

// safeParse runs Parse, turning a panic into an error and giving up after
// a generous bound so that a loop fails the test instead of hanging it.
func safeParse(p *Parser, body []byte, feedURL string) (n int, err error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("PANIC: %v", r)}
			}
		}()
		got, err := p.Parse(body, "", feedURL, "corpus")
		done <- result{len(got.Items), err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(30 * time.Second):
		return 0, errors.New("HANG: parse did not finish in 30s")
	}
}

// gofeedIdentities counts the distinct item identities plain gofeed finds
// in body, with the same identity and keep rules Parse applies.
func gofeedIdentities(body []byte, feedURL string) (int, error) {
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	base, _ := url.Parse(feedURL)
	var parts []idParts
	for _, it := range f.Items {
		if ip, keep := identityParts(it, base, f.FeedType == "json"); keep {
			parts = append(parts, ip)
		}
	}
	keys, _ := keyEntries(parts, feed.IdentityAuto)
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	return len(seen), nil
}

func TestCorpusReal(t *testing.T) {
	dir := corpusDir(t, "real")
	p := New()
	parsed, rejected := 0, 0
	for _, path := range corpusFiles(t, dir) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(dir, path)
		feedURL := corpusURL(dir, path)
		n, err := safeParse(p, body, feedURL)
		if err != nil && (strings.HasPrefix(err.Error(), "PANIC") || strings.HasPrefix(err.Error(), "HANG")) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, gerr := gofeedIdentities(body, feedURL)
		if err != nil {
			rejected++
			t.Logf("rejected %s: %v", name, err)
			if gerr == nil && want > 0 {
				t.Errorf("%s: Parse failed (%v) where plain gofeed found %d items", name, err, want)
			}
			continue
		}
		parsed++
		if gerr == nil && n != want {
			t.Errorf("%s: %d items, plain gofeed has %d distinct identities", name, n, want)
		}
	}
	t.Logf("real corpus: %d parsed, %d rejected", parsed, rejected)
}

var digits = regexp.MustCompile(`[0-9]+`)

// reasonOf groups errors for the summary: line numbers and other figures
// are folded, and the feed links an HTML page names are left out.
func reasonOf(err error) string {
	var nf *NotFeedError
	if errors.As(err, &nf) {
		r := nf.Reason
		if strings.HasPrefix(r, "malformed XML") || strings.HasPrefix(r, "XML with root") {
			r = digits.ReplaceAllString(r, "N")
		}
		return "not a feed: " + r
	}
	s := digits.ReplaceAllString(err.Error(), "N")
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}

func TestCorpusIllformed(t *testing.T) {
	dir := corpusDir(t, "illformed")
	p := New()
	parsed, items := 0, 0
	failed := map[string]int{}
	for _, path := range corpusFiles(t, dir) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(dir, path)
		n, err := safeParse(p, body, corpusURL(dir, path))
		switch {
		case err == nil:
			parsed++
			items += n
		case strings.HasPrefix(err.Error(), "PANIC"), strings.HasPrefix(err.Error(), "HANG"):
			t.Errorf("%s: %v", name, err)
		default:
			failed[reasonOf(err)]++
		}
	}
	reasons := make([]string, 0, len(failed))
	total := 0
	for r, n := range failed {
		reasons = append(reasons, r)
		total += n
	}
	sort.Slice(reasons, func(i, j int) bool { return failed[reasons[i]] > failed[reasons[j]] })
	t.Logf("illformed corpus: %d parsed (%d items), %d failed", parsed, items, total)
	for _, r := range reasons {
		t.Logf("%6d  %s", failed[r], r)
	}
}

func BenchmarkParse(b *testing.B) {
	path := filepath.Join(corpusDir(b, "real"), "knews-rss", "publishers", "hani.xml")
	body, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	p := New()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(body, "application/rss+xml", "https://www.hani.co.kr/rss/politics/", "hani"); err != nil {
			b.Fatal(err)
		}
	}
}
