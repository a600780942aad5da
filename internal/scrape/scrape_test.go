package scrape

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/htmlguard"
)

// The pages of testdata/ are made like real ones (CSIS's Korea Chair
// "Analysis" listing, a redesign of it, and KINU's Online Series board in
// EUC-KR); they are not copies.

// csis are the settings of the CSIS listing.
var csis = feed.Scrape{
	Item: "div.views-row", Title: "h3 a", Link: "h3 a@href", Date: "time@datetime",
	Summary: ".teaser__summary", Author: ".contributors a",
}

const csisURL = "https://www.csis.org/programs/korea-chair/analysis"

func page(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCompile(t *testing.T, s feed.Scrape) *Rules {
	t.Helper()
	r, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompileRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name string
		s    feed.Scrape
		want map[string]string // field → part of its message
	}{
		{"empty", feed.Scrape{}, map[string]string{"item": "required", "title": "required", "link": "required"}},
		{"bad css", feed.Scrape{Item: "div.row", Title: "h3 a[", Link: "a@href"},
			map[string]string{"title": `"h3 a[": expected identifier`}},
		{"attribute on item", feed.Scrape{Item: "div@class", Title: "h3", Link: "a@href"},
			map[string]string{"item": "takes no @attribute"}},
		{"layout without a year", feed.Scrape{Item: "div", Title: "h3", Link: "a@href", Date: "time", DateFormat: "Jan 2"},
			map[string]string{"date_format": "giving year, month and day"}},
		{"not a layout", feed.Scrape{Item: "div", Title: "h3", Link: "a@href", Date: "time", DateFormat: "dd.mm.yyyy"},
			map[string]string{"date_format": "not a Go time layout"}},
		{"layout without a date", feed.Scrape{Item: "div", Title: "h3", Link: "a@href", DateFormat: "2006.01.02"},
			map[string]string{"date_format": "needs a date selector"}},
		{"empty css", feed.Scrape{Item: "div", Title: "  ", Link: "a@href"},
			map[string]string{"title": "empty selector"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.s)
			got := map[string]string{}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("%v is not a *FieldError", e)
				}
				got[fe.Field] = fe.Err.Error()
			}
			if len(got) != len(tt.want) {
				t.Errorf("problems %v, want fields %v", got, tt.want)
			}
			for f, msg := range tt.want {
				if !strings.Contains(got[f], msg) {
					t.Errorf("%s: %q, want it to say %q", f, got[f], msg)
				}
			}
		})
	}
}

func TestSelectorAttribute(t *testing.T) {
	tests := []struct{ raw, attr string }{
		{"h3 a@href", "href"},
		{"time @ datetime", ""}, // "@ datetime" is no attribute name: a CSS error
		{`a[href$="@kinu.or.kr"]`, ""},
		{`a[href$="@kinu.or.kr"]@data-id`, "data-id"},
		{"@href", "href"},
		{"meta@Content", "content"},
	}
	for _, tt := range tests {
		s, err := parseSelector(tt.raw, true)
		if tt.raw == "time @ datetime" {
			if err == nil {
				t.Errorf("%q compiled", tt.raw)
			}
			continue
		}
		if err != nil || s.Attr != tt.attr {
			t.Errorf("%q: attr %q, err %v; want attr %q", tt.raw, s.Attr, err, tt.attr)
		}
	}
}

func TestExtractListing(t *testing.T) {
	p, err := mustCompile(t, csis).Extract(page(t, "csis-korea-chair-analysis.html"), csisURL, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(p.Records), 4; got != want || p.Matched != 4 {
		t.Fatalf("records=%d matched=%d, want %d", got, p.Matched, want)
	}
	r := p.Records[0]
	for _, c := range []struct{ field, got, want string }{
		{"title", r.Title, "North Korea’s New Solid-Fuel Missile:\n                What It Means for Deterrence"},
		{"link", r.Link, "/analysis/north-koreas-new-solid-fuel-missile-what-it-means?utm_source=listing&amp;utm_medium=web"},
		{"date", r.Date, "2024-03-15T12:00:00Z"},
		{"authors", strings.Join(r.Authors, "|"), "Victor D. Cha|Andy Lim"},
		{"page title", p.Title, "Analysis | Korea Chair | CSIS"},
		{"lang", p.Lang, "en"},
	} {
		if c.got != c.want {
			t.Errorf("%s=%q, want %q", c.field, c.got, c.want)
		}
	}
	if !strings.HasPrefix(r.Summary, "<p>Pyongyang’s test of a <em>solid-fuel</em>") || r.SummaryCut {
		t.Errorf("summary=%q cut=%v", r.Summary, r.SummaryCut)
	}

	if _, err := mustCompile(t, csis).Extract(page(t, "csis-korea-chair-analysis.html"), csisURL, 3); err != nil {
		t.Fatal(err)
	}
	if p, _ := mustCompile(t, csis).Extract(page(t, "csis-korea-chair-analysis.html"), csisURL, 3); len(p.Records) != 3 || p.Matched != 4 {
		t.Errorf("maxItems 3: %d records of %d matched", len(p.Records), p.Matched)
	}
}

func TestExtractNoMatchNamesSelectorAndURL(t *testing.T) {
	_, err := mustCompile(t, csis).Extract(page(t, "csis-korea-chair-analysis-redesign.html"), csisURL, 100)
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err=%v, want ErrNoMatch", err)
	}
	if got, want := err.Error(), `item selector "div.views-row" matched nothing on `+csisURL; got != want {
		t.Errorf("err=%q, want %q", got, want)
	}
}

func TestExtractItemItself(t *testing.T) {
	r := mustCompile(t, feed.Scrape{Item: "a.card", Title: "h2", Link: "@href", Author: "@data-author"})
	p, err := r.Extract([]byte(`<a class=card href="/a" data-author="Kim"><h2>A</h2></a><a class=card href="/b"><h2>B</h2></a>`), "https://x.org/", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 2 || p.Records[0].Link != "/a" || p.Records[1].Link != "/b" ||
		len(p.Records[0].Authors) != 1 || p.Records[0].Authors[0] != "Kim" || p.Records[1].Authors != nil {
		t.Errorf("records=%+v", p.Records)
	}
}

// TestExtractBoundsFields: a summary selector that matches the whole page
// keeps MaxFieldBytes of it per item, not the page.
func TestExtractBoundsFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("<div class=all>")
	for range 20 {
		b.WriteString(`<div class=item><a href="/x">t</a><p>` + strings.Repeat("long text ", 8000) + "</p></div>")
	}
	b.WriteString("</div>")
	r := mustCompile(t, feed.Scrape{Item: "div.item", Title: "a", Link: "a@href", Summary: "p", Date: "a@title"})
	p, err := r.Extract([]byte(b.String()), "https://x.org/", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range p.Records {
		if len(rec.Summary) != MaxFieldBytes || !rec.SummaryCut || rec.Date != "" {
			t.Fatalf("summary %d bytes cut=%v date=%q, want %d bytes cut", len(rec.Summary), rec.SummaryCut, rec.Date, MaxFieldBytes)
		}
	}
}

// TestExtractDeepPage: a page of 2,000,000 nested <div> (10 MB) is refused
// by the guard before a tree is built, with the bound named.
func TestExtractDeepPage(t *testing.T) {
	deep := []byte("<html><body>" + strings.Repeat("<div>", 2_000_000) + "<h3><a href=/x>x</a></h3>")
	_, err := mustCompile(t, feed.Scrape{Item: "div", Title: "h3", Link: "a@href"}).Extract(deep, csisURL, 100)
	if !errors.Is(err, htmlguard.ErrTooComplex) || !strings.Contains(err.Error(), "nested more than 512 deep") ||
		!strings.Contains(err.Error(), csisURL) {
		t.Fatalf("err=%v, want the depth bound and the URL", err)
	}
}

// FuzzExtract: any page, whatever it holds, gives records or an error,
// and no field beyond its bound.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`<div class=i><h3><a href="/a">A</a></h3><time datetime="2024-01-02">x</time><p class=s>S</p><span class=by>K</span></div>`))
	f.Add([]byte(`<table><tr class=i><td><a href=x>y<td>2024.01.02</table>`))
	r, err := Compile(feed.Scrape{Item: ".i", Title: "h3, a", Link: "a@href", Date: "time, td", Summary: ".s", Author: ".by"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := r.Extract(b, "https://x.org/", 50)
		if err != nil {
			return
		}
		if len(p.Records) == 0 || len(p.Records) > 50 {
			t.Fatalf("%d records without an error", len(p.Records))
		}
		for _, rec := range p.Records {
			if len(rec.Title) > MaxFieldBytes || len(rec.Summary) > MaxFieldBytes || len(rec.Authors) > maxAuthors {
				t.Fatalf("record over its bounds: %d, %d, %d", len(rec.Title), len(rec.Summary), len(rec.Authors))
			}
		}
	})
}
