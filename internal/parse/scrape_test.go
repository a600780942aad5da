package parse

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/scrape"
)

// The listing pages live with internal/scrape; they are made like real
// ones (see its tests).
func listing(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../scrape/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var csisSource = feed.Source{ID: "csis-korea-chair", Scrape: &feed.Scrape{
	Item: "div.views-row", Title: "h3 a", Link: "h3 a@href", Date: "time@datetime",
	Summary: ".teaser__summary", Author: ".contributors a",
}}

const csisURL = "https://www.csis.org/programs/korea-chair/analysis"

func TestScrapeListing(t *testing.T) {
	p, err := New().ParseSource(listing(t, "csis-korea-chair-analysis.html"), "text/html; charset=utf-8", csisURL, csisSource)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "html" || p.Title != "Analysis | Korea Chair | CSIS" || p.Link != csisURL || p.Language != "en" || p.Warning != "" {
		t.Errorf("page: type %q title %q link %q lang %q warning %q", p.Type, p.Title, p.Link, p.Language, p.Warning)
	}
	if len(p.Items) != 4 {
		t.Fatalf("%d items, want 4", len(p.Items))
	}
	it := p.Items[0]
	const link = "https://www.csis.org/analysis/north-koreas-new-solid-fuel-missile-what-it-means"
	for _, c := range []struct{ field, got, want string }{
		{"source", it.SourceID, "csis-korea-chair"},
		{"key", it.Key, "link:www.csis.org/analysis/north-koreas-new-solid-fuel-missile-what-it-means"},
		{"link (relative, tracking parameters dropped)", it.Link, link},
		{"title (entities decoded, white space folded)", it.Title, "North Korea’s New Solid-Fuel Missile: What It Means for Deterrence"},
		{"published", it.Published.Format(time.RFC3339), "2024-03-15T12:00:00Z"},
		{"authors", fmt.Sprint(it.Authors), "[{Victor D. Cha  } {Andy Lim  }]"},
		{"summary (sanitised, links absolute)", it.Summary, `<p>Pyongyang’s test of a <em>solid-fuel</em> intermediate-range missile shortens warning times across the region. <a href="` + link + `#section-2" rel="nofollow noopener" target="_blank">Read the findings</a>.</p>`},
		{"language", it.Language, "en"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.field, c.got, c.want)
		}
	}
	if !it.Dated || !it.Updated.Equal(it.Published) {
		t.Errorf("dated=%v updated=%v", it.Dated, it.Updated)
	}
	if s := p.Items[1].Summary; strings.Contains(s, "onerror") || !strings.Contains(s, `src="https://www.csis.org/sites/default/files/styles/teaser/public/2024-02/alliance.jpg?itok=Zx1"`) {
		t.Errorf("second summary not sanitised or not absolute: %q", s)
	}
}

// TestScrapeLegacyCharset reads a board in EUC-KR that says so only in its
// <meta> (the Content-Type has no charset), with links relative to its
// <base href>, dates in date_format and a deleted row without a link.
func TestScrapeLegacyCharset(t *testing.T) {
	src := feed.Source{ID: "kinu-online-series", Scrape: &feed.Scrape{
		Item: "table.board_list tbody tr", Title: "td.subject a", Link: "td.subject a@href",
		Date: "td.date", DateFormat: "2006.01.02", Author: "td.writer",
	}}
	p, err := New().ParseSource(listing(t, "kinu-online-series.html"), "text/html", "https://www.kinu.or.kr/www/jsp/prg/api/dlist.jsp?menuIdx=351", src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "통일연구원 - Online Series 목록" || len(p.Items) != 4 {
		t.Fatalf("title %q, %d items", p.Title, len(p.Items))
	}
	it := p.Items[0]
	if it.Title != "북한의 ‘적대적 두 국가’ 규정과 통일정책의 과제" ||
		it.Link != "https://www.kinu.or.kr/www/jsp/prg/api/view.jsp?biblioId=1545632&category=53&menuIdx=351&searchField=&searchText=&thisPage=1" ||
		it.Published.Format("2006-01-02") != "2024-03-15" || len(it.Authors) != 1 || it.Authors[0].Name != "홍민" {
		t.Errorf("first item: %q <%s> %v %v", it.Title, it.Link, it.Published, it.Authors)
	}
	if want := `1 of 5 items skipped: title selector "td.subject a" found no text in 1`; p.Warning != want {
		t.Errorf("warning=%q, want %q", p.Warning, want)
	}
}

func TestScrapeProblems(t *testing.T) {
	src := func(s feed.Scrape) feed.Source { return feed.Source{ID: "s", Scrape: &s} }
	base := feed.Scrape{Item: "li", Title: "a", Link: "a@href", Date: "span"}
	undated := feed.Scrape{Item: "li", Title: "a", Link: "a@href"}
	tests := []struct {
		name    string
		src     feed.Source
		page    string
		items   int
		err     string // part of the error, "" for none
		warning string
	}{
		{"no match", src(base), `<ul class=x></ul>`, 0, `scrape s: item selector "li" matched nothing on https://x.org/list`, ""},
		{"none usable", src(base), `<li><b>t</b></li><li><a>no href</a></li><li><a href="javascript:alert(1)">js</a></li>`, 0,
			`scrape s: item selector "li" matched 3 elements on https://x.org/list, and none has both a title and a link: ` +
				`title selector "a" found no text in 1, link selector "a@href" found nothing in 1, link selector "a@href" found no http(s) URL in 1 (such as "javascript:alert(1)")`, ""},
		{"undated and unreadable dates", src(base), `<li><a href=/1>one</a><span>15 March 2024</span></li><li><a href=/2>two</a></li><li><a href=/3>three</a><span>soon</span></li>`, 3, "",
			`date selector "span" found nothing in 1 of 3 items: dated by first-seen time; 1 of 2 dates could not be read in any known date format (such as "soon"): dated by first-seen time`},
		{"date_format that does not fit", src(feed.Scrape{Item: "li", Title: "a", Link: "a@href", Date: "span", DateFormat: "2006.01.02"}),
			`<li><a href=/1>one</a><span>March 15, 2024</span></li>`, 1, "",
			`1 of 1 dates could not be read with date_format "2006.01.02" (such as "March 15, 2024"): dated by first-seen time`},
		{"one story listed twice", src(undated), `<li><a href="/a?utm_source=top">A</a></li><li><a href="https://x.org/a">A again</a></li>`, 1, "", ""},
		{"identity content", feed.Source{ID: "s", Identity: feed.IdentityContent, Scrape: &undated}, `<li><a href="/a">A</a></li><li><a href="/a">B</a></li>`, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New().ParseSource([]byte(tt.page), "text/html", "https://x.org/list", tt.src)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err=%v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != tt.items || p.Warning != tt.warning {
				t.Fatalf("%d items, warning %q; want %d, %q", len(p.Items), p.Warning, tt.items, tt.warning)
			}
		})
	}
	_, err := New().ParseSource([]byte(`<p>`), "text/html", "https://x.org/", src(base))
	if !errors.Is(err, scrape.ErrNoMatch) {
		t.Errorf("err=%v, want scrape.ErrNoMatch", err)
	}
}

// TestScrapeCaps: a page of 10,001 items keeps the feed cap, says so, and
// an item's text obeys the item caps.
func TestScrapeCaps(t *testing.T) {
	var b strings.Builder
	for i := range MaxItemsPerFeed + 1 {
		fmt.Fprintf(&b, "<li><a href=/%d>%s</a><p>%s</p></li>\n", i, strings.Repeat("title ", 500), strings.Repeat("x", 100))
	}
	s := feed.Scrape{Item: "li", Title: "a", Link: "a@href", Summary: "p"}
	p, err := New().ParseSource([]byte(b.String()), "text/html", "https://x.org/", feed.Source{ID: "s", Scrape: &s})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != MaxItemsPerFeed || !strings.Contains(p.Warning, `item selector "li" matched 10001 elements: the first 10000 were read`) {
		t.Errorf("%d items, warning %q", len(p.Items), p.Warning)
	}
	if n := len(p.Items[0].Title); n > MaxTitleBytes {
		t.Errorf("title of %d bytes", n)
	}
}

func TestPageDate(t *testing.T) {
	p := New()
	tests := []struct{ raw, layout, want string }{
		{"2024-03-15T12:00:00Z", "", "2024-03-15T12:00:00Z"},
		{"March 15, 2024", "", "2024-03-15T00:00:00Z"},
		{"15 March 2024", "", "2024-03-15T00:00:00Z"},
		{"Feb. 28, 2024", "", "2024-02-28T00:00:00Z"},
		{"2024.03.15", "", "2024-03-15T00:00:00Z"},
		{"2024. 3. 15.", "", "2024-03-15T00:00:00Z"},
		{"2024년 3월 15일", "", "2024-03-15T00:00:00Z"},
		{"Fri, 15 Mar 2024 09:00:00 KST", "", "2024-03-15T00:00:00Z"},
		{"15/03/2024", "02/01/2006", "2024-03-15T00:00:00Z"},
		{"2024-03-15 09:00 +0900", "2006-01-02 15:04 -0700", "2024-03-15T00:00:00Z"},
		{"soon", "", "0001-01-01T00:00:00Z"},
		{"March 15, 2024", "2006.01.02", "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := p.pageDate(tt.raw, tt.layout).Format(time.RFC3339); got != tt.want {
			t.Errorf("pageDate(%q, %q)=%s, want %s", tt.raw, tt.layout, got, tt.want)
		}
	}
}

// BenchmarkScrapeListing reads the CSIS-like listing (four items, 6.8 KB)
// as a poll does: guard, tree, selectors, normalising.
func BenchmarkScrapeListing(b *testing.B) {
	page, err := os.ReadFile("../scrape/testdata/csis-korea-chair-analysis.html")
	if err != nil {
		b.Fatal(err)
	}
	p := New()
	for b.Loop() {
		if _, err := p.ParseSource(page, "text/html", csisURL, csisSource); err != nil {
			b.Fatal(err)
		}
	}
}
