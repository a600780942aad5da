package parse

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// What tracking looks like in item HTML, as the corpus writes it: written
// out here rather than taken from package tracking, so that the test does
// not check the code with itself.
var (
	counterRE = regexp.MustCompile(`(?i)<[a-z]*:?img[^>]*src="(https?:)?//(feeds\.feedburner\.com|feedproxy\.google\.com)/~r/`)
	pixelRE   = regexp.MustCompile(`(?i)<[a-z]*:?img[^>]*(width="?1"?[\s/>][^>]*height="?1"?[\s/>]|height="?1"?[\s/>][^>]*width="?1"?[\s/>])`)
	paramRE   = regexp.MustCompile(`(?i)(href|src|srcset|poster|cite)="[^"]*[?&](amp;)?(utm_[a-z]*|fbclid|gclid|mc_cid|mc_eid)=`)
)

// TestCorpusTrackingStripped parses every real feed of the corpus and finds
// no FeedBurner counter, no 1×1 image and no tracking parameter in any
// URL of any item's HTML. The corpus has all three: FeedBurner feeds
// (TechCrunch, CRE, TypePad) and links with utm_* (Daring Fireball,
// Macworld, HuffPost Canada, ...).
func TestCorpusTrackingStripped(t *testing.T) {
	dir := corpusDir(t, "real")
	p := New()
	var withCounter, withParams, items int
	for _, path := range corpusFiles(t, dir) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw := string(body)
		rel, _ := filepath.Rel(dir, path)
		got, err := p.Parse(body, "", corpusURL(dir, path), "corpus")
		if err != nil {
			continue // TestCorpusReal accounts for the files that do not parse
		}
		// The raw feed escapes its HTML or not; either way it carries the
		// tracking the test looks for.
		unescaped := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&").Replace(raw)
		if counterRE.MatchString(raw) {
			withCounter++
		}
		if paramRE.MatchString(unescaped) {
			withParams++
		}
		for _, it := range got.Items {
			items++
			for field, h := range map[string]string{"summary": it.Summary, "content": it.Content} {
				for _, re := range []*regexp.Regexp{counterRE, pixelRE, paramRE} {
					if m := re.FindString(h); m != "" {
						t.Errorf("%s: item %s: %s keeps %q", rel, it.Link, field, m)
					}
				}
			}
		}
	}
	t.Logf("%d items; %d files with FeedBurner counters, %d with tracking parameters in their HTML", items, withCounter, withParams)
	if withCounter < 3 || withParams < 5 {
		t.Fatalf("the corpus has %d files with counters and %d with tracking parameters: the test checks nothing", withCounter, withParams)
	}
}
