package parse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t *testing.T, body []byte, contentType, feedURL string) feed.Parsed {
	t.Helper()
	got, err := New().Parse(body, contentType, feedURL, "src")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return got
}

func TestParseRSS2(t *testing.T) {
	got := mustParse(t, readFixture(t, "rss2.xml"), "application/rss+xml", "https://example.com/feeds/main.xml")

	if got.Type != "rss" || got.Title != "Example & News" || got.Link != "https://example.com/news/" ||
		got.Language != "ko" || got.TTL != 30 {
		t.Fatalf("feed = %q %q %q %q %d", got.Type, got.Title, got.Link, got.Language, got.TTL)
	}
	// Five items: the duplicate guid and the empty item are dropped.
	if got, want := len(got.Items), 3; got != want {
		t.Fatalf("items=%d, want %d", got, want)
	}
	kst := time.FixedZone("KST", 9*3600)

	t.Run("first item fully normalised", func(t *testing.T) {
		it := got.Items[0]
		want := feed.Item{
			SourceID:      "src",
			Key:           "id:urn:example:1",
			ID:            "urn:example:1",
			IDIsPermaLink: false,
			Link:          "https://example.com/news/1.html",
			Title:         "First story with spaces",
			Summary:       "Short <b>summary</b>",
			Authors:       []feed.Person{{Name: "Kim Editor", Email: "editor@example.com"}},
			Categories:    []feed.Category{{Term: "Politics", Scheme: "http://example.com/sections"}, {Term: "Seoul"}},
			Enclosures:    []feed.Enclosure{{URL: "https://example.com/audio/1.mp3", Type: "audio/mpeg", Length: 12345}},
			Language:      "ko",
			Published:     time.Date(2022, 8, 1, 9, 0, 0, 0, kst).UTC(),
			Updated:       time.Date(2022, 8, 1, 9, 0, 0, 0, kst).UTC(),
			Dated:         true,
		}
		content := it.Content
		it.Content = ""
		if !reflect.DeepEqual(it, want) {
			t.Errorf("item =\n%+v\nwant\n%+v", it, want)
		}
		for _, bad := range []string{"script", "onerror", "onclick", "javascript:", "alert"} {
			if strings.Contains(content, bad) {
				t.Errorf("content keeps %q: %s", bad, content)
			}
		}
		for _, good := range []string{`src="https://example.com/news/img/a.png"`, `href="https://example.com/other.html"`, "Body"} {
			if !strings.Contains(content, good) {
				t.Errorf("content lacks %q: %s", good, content)
			}
		}
	})
	t.Run("guid without isPermaLink is a permalink and the link", func(t *testing.T) {
		it := got.Items[1]
		if !it.IDIsPermaLink || it.Link != "https://example.com/news/2.html" || it.Key != "id:example.com/news/2.html" {
			t.Errorf("perma=%v link=%q key=%q", it.IDIsPermaLink, it.Link, it.Key)
		}
		if want := time.Date(2022, 8, 1, 0, 30, 0, 0, time.UTC); !it.Published.Equal(want) || it.Published.Location() != time.UTC {
			t.Errorf("published=%v, want %v", it.Published, want)
		}
		if want := []feed.Person{{Name: "홍길동 기자"}}; !reflect.DeepEqual(it.Authors, want) {
			t.Errorf("authors=%v, want %v", it.Authors, want)
		}
		if want := []feed.Enclosure{{URL: "https://cdn.example.com/2.mp3", Type: "audio/mpeg"}}; !reflect.DeepEqual(it.Enclosures, want) {
			t.Errorf("enclosures=%v, want %v", it.Enclosures, want)
		}
	})
	t.Run("isPermaLink true, content only, no date", func(t *testing.T) {
		it := got.Items[2]
		if !it.IDIsPermaLink {
			t.Error("IDIsPermaLink=false")
		}
		if it.Summary != "" || it.Content != "<p>Only content</p>" {
			t.Errorf("summary=%q content=%q", it.Summary, it.Content)
		}
		if it.Dated || !it.Published.IsZero() || !it.Updated.IsZero() {
			t.Errorf("dated=%v published=%v updated=%v", it.Dated, it.Published, it.Updated)
		}
	})
}

func TestParseAtom(t *testing.T) {
	got := mustParse(t, readFixture(t, "atom.xml"), "", "https://feeds.example.org/atom")
	if got.Type != "atom" || got.Title != "Atom Example" || got.Link != "http://example.org/blog/" || got.Language != "en" {
		t.Fatalf("feed = %q %q %q %q", got.Type, got.Title, got.Link, got.Language)
	}
	if len(got.Items) != 2 {
		t.Fatalf("items=%d, want 2", len(got.Items))
	}
	one, two := got.Items[0], got.Items[1]
	// xml:base "http://example.org/blog/index.html" has no trailing slash:
	// references resolve against http://example.org/blog/, not .../index.html/.
	if want := "http://example.org/blog/posts/one.html"; one.Link != want {
		t.Errorf("link=%q, want %q", one.Link, want)
	}
	if want := []feed.Enclosure{{URL: "http://example.org/blog/media/one.mp3", Type: "audio/mpeg", Length: 2048}}; !reflect.DeepEqual(one.Enclosures, want) {
		t.Errorf("enclosures=%v, want %v", one.Enclosures, want)
	}
	if want := []feed.Person{{Name: "Ada", Email: "ada@example.org", URI: "http://example.org/people/ada"}}; !reflect.DeepEqual(one.Authors, want) {
		t.Errorf("authors=%v, want %v", one.Authors, want)
	}
	if want := []feed.Category{{Term: "go", Scheme: "http://example.org/tags", Label: "Go language"}}; !reflect.DeepEqual(one.Categories, want) {
		t.Errorf("categories=%v, want %v", one.Categories, want)
	}
	if one.ID != "tag:example.org,2024:1" || one.IDIsPermaLink || one.Key != "id:tag:example.org,2024:1" {
		t.Errorf("id=%q perma=%v key=%q", one.ID, one.IDIsPermaLink, one.Key)
	}
	if want := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC); !one.Published.Equal(want) {
		t.Errorf("published=%v, want %v", one.Published, want)
	}
	if want := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC); !one.Updated.Equal(want) {
		t.Errorf("updated=%v, want %v", one.Updated, want)
	}
	if one.Summary != "<p>Summary one</p>" {
		t.Errorf("summary=%q", one.Summary)
	}
	for _, want := range []string{`href="http://example.org/blog/next.html"`, `src="http://example.org/blog/img/x.png"`} {
		if !strings.Contains(one.Content, want) {
			t.Errorf("content lacks %s: %s", want, one.Content)
		}
	}

	if want := "http://example.org/other/deep/two.html"; two.Link != want {
		t.Errorf("entry two link=%q, want %q", two.Link, want)
	}
	if two.Title != "Entry two & more" {
		t.Errorf("title=%q", two.Title)
	}
	if want := "1 &lt; 2 &amp;&amp; 3 &gt; 2"; two.Content != want {
		t.Errorf("text content=%q, want %q", two.Content, want)
	}
	if want := []feed.Person{{Name: "Feed Author"}}; !reflect.DeepEqual(two.Authors, want) {
		t.Errorf("inherited authors=%v, want %v", two.Authors, want)
	}
	if !two.Dated || !two.Published.Equal(two.Updated) {
		t.Errorf("dated=%v published=%v updated=%v", two.Dated, two.Published, two.Updated)
	}
}

func TestParseRSS1(t *testing.T) {
	got := mustParse(t, readFixture(t, "rss1.rdf"), "application/rdf+xml", "http://example.net/index.rdf")
	if got.Type != "rss" || got.Title != "RDF Example" || got.Language != "ja" || len(got.Items) != 2 {
		t.Fatalf("feed = %q %q %q items=%d", got.Type, got.Title, got.Language, len(got.Items))
	}
	a := got.Items[0]
	if a.Key != "link:example.net/a" || a.ID != "" || a.IDIsPermaLink {
		t.Errorf("key=%q id=%q perma=%v", a.Key, a.ID, a.IDIsPermaLink)
	}
	if want := time.Date(2024, 1, 1, 18, 4, 5, 0, time.UTC); !a.Published.Equal(want) || !a.Dated {
		t.Errorf("published=%v dated=%v, want %v", a.Published, a.Dated, want)
	}
	if want := []feed.Person{{Name: "Tanaka"}}; !reflect.DeepEqual(a.Authors, want) {
		t.Errorf("authors=%v", a.Authors)
	}
	if want := []feed.Category{{Term: "news"}}; !reflect.DeepEqual(a.Categories, want) {
		t.Errorf("categories=%v", a.Categories)
	}
	if a.Summary != "About A" || a.Language != "ja" {
		t.Errorf("summary=%q language=%q", a.Summary, a.Language)
	}
}

func TestParseJSONFeed(t *testing.T) {
	got := mustParse(t, readFixture(t, "feed.json"), "application/feed+json", "https://example.com/feed.json")
	if got.Type != "json" || got.Title != "JSON Example" || got.Link != "https://example.com/" || got.Language != "en" {
		t.Fatalf("feed = %q %q %q %q", got.Type, got.Title, got.Link, got.Language)
	}
	if len(got.Items) != 2 {
		t.Fatalf("items=%d, want 2", len(got.Items))
	}
	one, two := got.Items[0], got.Items[1]
	if one.Title != "A <b> is not a tag here" {
		t.Errorf("title=%q", one.Title)
	}
	if one.Summary != "Plain &amp; short" {
		t.Errorf("summary=%q", one.Summary)
	}
	if !strings.Contains(one.Content, `href="https://example.com/x"`) {
		t.Errorf("content=%q", one.Content)
	}
	if want := []feed.Category{{Term: "a"}, {Term: "b"}}; !reflect.DeepEqual(one.Categories, want) {
		t.Errorf("categories=%v, want %v", one.Categories, want)
	}
	if want := []feed.Person{{Name: "Feed Writer", URI: "https://example.com/me"}}; !reflect.DeepEqual(one.Authors, want) {
		t.Errorf("authors=%v, want %v", one.Authors, want)
	}
	if want := []feed.Enclosure{{URL: "https://example.com/1.mp3", Type: "audio/mpeg", Length: 999}}; !reflect.DeepEqual(one.Enclosures, want) {
		t.Errorf("enclosures=%v", one.Enclosures)
	}
	if want := time.Date(2024, 5, 1, 1, 0, 0, 0, time.UTC); !one.Published.Equal(want) {
		t.Errorf("published=%v", one.Published)
	}
	if two.Key != "id:2" || two.Link != "" || two.Content != "Line &lt;one&gt;\nLine two" {
		t.Errorf("key=%q link=%q content=%q", two.Key, two.Link, two.Content)
	}
	// Only date_modified: Published takes it, and the item is dated.
	if want := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC); !two.Published.Equal(want) || !two.Updated.Equal(want) || !two.Dated {
		t.Errorf("published=%v updated=%v dated=%v", two.Published, two.Updated, two.Dated)
	}
}

func TestParseNotFeed(t *testing.T) {
	tests := []struct {
		name  string
		body  []byte
		want  string
		links []string
	}{
		{"empty body", nil, "not a feed: empty body", nil},
		{"white space", []byte(" \r\n\t "), "not a feed: empty body", nil},
		{"BOM only", []byte("\xEF\xBB\xBF\n"), "not a feed: empty body", nil},
		{"HTML page with feed links", readFixture(t, "page.html"),
			"not a feed: HTML page (it links to feeds: https://example.com/feed.xml, https://example.com/atom.xml)",
			[]string{"https://example.com/feed.xml", "https://example.com/atom.xml"}},
		{"HTML page without feed links", []byte("<html><body>hi</body></html>"), "not a feed: HTML page announces no feed", nil},
		{"JSON that is not JSON Feed", readFixture(t, "notfeed.json"), "not a feed: JSON that is not JSON Feed", nil},
		{"JSON array", []byte(`[1, 2]`), "not a feed: JSON that is not JSON Feed", nil},
		{"other XML", []byte(`<?xml version="1.0"?><opml version="2.0"><body/></opml>`), "not a feed: XML with root element <opml>", nil},
		{"plain text", []byte("hello"), "not a feed: unrecognised content", nil},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Parse(tt.body, "", "https://example.com/blog/", "src")
			if !errors.Is(err, ErrNotFeed) {
				t.Fatalf("err=%v, want ErrNotFeed", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("err=%q, want %q", got, tt.want)
			}
			var nf *NotFeedError
			if !errors.As(err, &nf) || !reflect.DeepEqual(nf.FeedLinks, tt.links) {
				t.Errorf("FeedLinks=%v, want %v", nf.FeedLinks, tt.links)
			}
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct{ name, body, prefix string }{
		{"truncated RSS", `<rss version="2.0"><channel><title>x</title><item><title>a`, "parse rss: "},
		{"truncated Atom", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a`, "parse atom: "},
		{"broken JSON", `{"version": "https://jsonfeed.org/version/1", "items": [`, "parse json: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().Parse([]byte(tt.body), "", "", "src")
			if err == nil || errors.Is(err, ErrNotFeed) || !strings.HasPrefix(err.Error(), tt.prefix) {
				t.Errorf("err=%v, want prefix %q and not ErrNotFeed", err, tt.prefix)
			}
		})
	}
}

func TestParseLongLeadingComment(t *testing.T) {
	body := readFixture(t, "rss2.xml")
	decl := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	comment := "<!-- " + strings.Repeat("generated by a very chatty CMS ", 350) + "-->\n"
	if len(comment) < 10<<10 {
		t.Fatalf("comment is only %d bytes", len(comment))
	}
	body = append(append(append([]byte{}, decl...), comment...), bytes.TrimPrefix(body, decl)...)
	got := mustParse(t, body, "", "https://example.com/feeds/main.xml")
	if got.Type != "rss" || len(got.Items) != 3 {
		t.Errorf("type=%q items=%d, want rss and 3", got.Type, len(got.Items))
	}
}

func TestParseJunkBeforeRoot(t *testing.T) {
	body := "<br />\n<b>Warning</b>: something in <b>/var/www/feed.php</b><br />\n" +
		`<rss version="2.0"><channel><title>T</title><item><title>a</title><link>https://e.com/a</link></item></channel></rss>`
	got := mustParse(t, []byte(body), "", "")
	if got.Type != "rss" || len(got.Items) != 1 || got.Items[0].Link != "https://e.com/a" {
		t.Errorf("got %+v", got)
	}
}

func TestParseConcurrent(t *testing.T) {
	p := New()
	bodies := [][]byte{readFixture(t, "rss2.xml"), readFixture(t, "atom.xml"), readFixture(t, "feed.json"), readFixture(t, "rss1.rdf")}
	want := make([]feed.Parsed, len(bodies))
	for i, b := range bodies {
		var err error
		if want[i], err = p.Parse(b, "", "https://example.com/f", "s"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, b := range bodies {
				got, err := p.Parse(b, "", "https://example.com/f", "s")
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					errs <- "concurrent parse differs"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func FuzzParse(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte("<rss><channel><item><title>x</title></item></channel></rss>"), "text/xml; charset=euc-kr")
	f.Add([]byte("\xFF\xFE<\x00r\x00s\x00s\x00>\x00"), "")
	p := New()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got, err := p.Parse(body, contentType, "https://example.com/feed/", "s")
		if err != nil {
			if len(got.Items) != 0 {
				t.Fatalf("error %v with %d items", err, len(got.Items))
			}
			return
		}
		seen := map[string]bool{}
		for _, it := range got.Items {
			if it.Key == "" || seen[it.Key] {
				t.Fatalf("empty or duplicate key %q", it.Key)
			}
			seen[it.Key] = true
			if strings.Contains(strings.ToLower(it.Content), "<script") || strings.Contains(strings.ToLower(it.Summary), "<script") {
				t.Fatalf("script survived sanitising")
			}
		}
	})
}

func TestParseFeedWrappedInXHTML(t *testing.T) {
	body := `<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><body>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Saved</title>
<entry><id>urn:1</id><title>One</title></entry></feed>
</body></html>`
	got := mustParse(t, []byte(body), "", "")
	if got.Type != "atom" || got.Title != "Saved" || len(got.Items) != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestParseRepairsJSONFeedTypes(t *testing.T) {
	body := `{"version": "https://jsonfeed.org/version/1", "title": "T", "author": "Solo Writer",
"items": [{"id": 7, "url": "https://e.com/7", "title": 123, "content_text": "x", "tags": "a, b,,c",
"authors": {"name": "Ann"}, "attachments": {"url": "https://e.com/a.mp3", "mime_type": "audio/mpeg"}}]}`
	got := mustParse(t, []byte(body), "", "")
	if len(got.Items) != 1 {
		t.Fatalf("items=%d", len(got.Items))
	}
	it := got.Items[0]
	if it.ID != "7" || it.Title != "123" {
		t.Errorf("id=%q title=%q", it.ID, it.Title)
	}
	if want := []feed.Category{{Term: "a"}, {Term: "b"}, {Term: "c"}}; !reflect.DeepEqual(it.Categories, want) {
		t.Errorf("categories=%v, want %v", it.Categories, want)
	}
	if want := []feed.Person{{Name: "Ann"}}; !reflect.DeepEqual(it.Authors, want) {
		t.Errorf("authors=%v, want %v", it.Authors, want)
	}
	if len(it.Enclosures) != 1 {
		t.Errorf("enclosures=%v", it.Enclosures)
	}
}
