package publish

import (
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestOPML(t *testing.T) {
	sources := []feed.Source{
		{ID: "kei", URL: "https://keia.org/feed/", Title: "The Peninsula (KEI)", Tags: []string{"think-tank"}},
		{ID: "38north", URL: "https://www.38north.org/feed/", Title: "38 North", Tags: []string{"think-tank", "north-korea"}},
		{ID: "yonhap", URL: "https://www.yna.co.kr/rss/news.xml?a=1&b=2", Title: "연합뉴스 <속보>"},
		{ID: "nk-news", URL: "https://www.nknews.org/feed/", Tags: []string{"north-korea"}, Disabled: true},
	}
	body, err := OPML(sources, "Sources", map[string]string{"kei": "https://keia.org/"}, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>Sources</title>
    <dateCreated>Sun, 01 Mar 2026 09:00:00 +0000</dateCreated>
    <docs>https://opml.org/spec2.opml</docs>
  </head>
  <body>
    <outline text="think-tank" title="think-tank">
      <outline text="The Peninsula (KEI)" title="The Peninsula (KEI)" type="rss" xmlUrl="https://keia.org/feed/" htmlUrl="https://keia.org/" category="/think-tank"></outline>
      <outline text="38 North" title="38 North" type="rss" xmlUrl="https://www.38north.org/feed/" category="/think-tank,/north-korea"></outline>
    </outline>
    <outline text="north-korea" title="north-korea">
      <outline text="38 North" title="38 North" type="rss" xmlUrl="https://www.38north.org/feed/" category="/think-tank,/north-korea"></outline>
      <outline text="nk-news" title="nk-news" type="rss" xmlUrl="https://www.nknews.org/feed/" category="/north-korea"></outline>
    </outline>
    <outline text="연합뉴스 &lt;속보&gt;" title="연합뉴스 &lt;속보&gt;" type="rss" xmlUrl="https://www.yna.co.kr/rss/news.xml?a=1&amp;b=2"></outline>
  </body>
</opml>
`
	if string(body) != want {
		t.Errorf("got:\n%s\nwant:\n%s", body, want)
	}
	if !strings.Contains(string(body), "&amp;b=2") {
		t.Error("& not escaped")
	}
}

// TestOPMLScrapedSource: a page read with scrape selectors is no feed; it
// is listed as a link, so that no reader subscribes to an HTML page.
func TestOPMLScrapedSource(t *testing.T) {
	sources := []feed.Source{{ID: "csis-korea-chair", URL: "https://www.csis.org/programs/korea-chair/analysis",
		Tags: []string{"think-tank"}, Scrape: &feed.Scrape{Item: "div.views-row", Title: "h3 a", Link: "h3 a@href"}}}
	body, err := OPML(sources, "Sources", nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := `<outline text="csis-korea-chair" title="csis-korea-chair" type="link" url="https://www.csis.org/programs/korea-chair/analysis" category="/think-tank"></outline>`
	if !strings.Contains(string(body), want) || strings.Contains(string(body), "xmlUrl") {
		t.Errorf("got:\n%s\nwant an outline %s", body, want)
	}
}
