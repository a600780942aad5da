package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestParseScrape(t *testing.T) {
	const src = `sources:
  - id: csis-korea-chair
    url: "https://www.csis.org/programs/korea-chair/analysis"
    scrape:
      item: "div.views-row"
      title: "h3 a"
      link: "h3 a@href"
      date: "time@datetime"
      summary: ".teaser__summary"
      author: ".byline"
  - id: kinu
    url: "https://www.kinu.or.kr/www/jsp/prg/api/dlist.jsp?menuIdx=351"
    scrape: { item: "table.board_list tbody tr", title: "td.subject a", link: "td.subject a@href", date: "td.date", date_format: "2006.01.02" }
  - id: feed
    url: "https://keia.org/feed/"
channels:
  - { id: all, title: All, sources: [csis-korea-chair, kinu, feed] }
`
	c, probs := parseString(t, src)
	if len(probs) > 0 {
		t.Fatal(strings.Join(probs, "\n"))
	}
	want := feed.Scrape{Item: "div.views-row", Title: "h3 a", Link: "h3 a@href", Date: "time@datetime", Summary: ".teaser__summary", Author: ".byline"}
	if got := c.Sources[0].Scrape; got == nil || *got != want {
		t.Errorf("sources[0].scrape=%+v, want %+v", got, want)
	}
	if got := c.Sources[1].Scrape; got == nil || got.DateFormat != "2006.01.02" {
		t.Errorf("sources[1].scrape=%+v", got)
	}
	if c.Sources[2].Scrape != nil {
		t.Errorf("a feed source has scrape settings %+v", c.Sources[2].Scrape)
	}
}

// TestParseScrapeProblems: every bad setting is a problem at its own key
// and line, with the selector compiler's own words.
func TestParseScrapeProblems(t *testing.T) {
	const src = `sources:
  - id: csis
    url: "https://www.csis.org/programs/korea-chair/analysis"
    identity: guid
    scrape:
      item: "div.views-row@class"
      title: "h3 a["
      date: "time"
      date_format: "Jan 2"
      sumary: ".teaser"
  - id: empty
    url: "https://www.csis.org/x"
    scrape: {}
channels:
  - { id: all, title: All, sources: [csis, empty] }
`
	_, got := parseString(t, src)
	want := []string{
		`feeds.yaml:4: sources[0].identity: "guid" cannot identify scraped items, which have no guid; use auto, link or content`,
		`feeds.yaml:5: sources[0].scrape.link: required`,
		`feeds.yaml:6: sources[0].scrape.item: "div.views-row@class": takes no @attribute (it selects the items themselves)`,
		`feeds.yaml:7: sources[0].scrape.title: "h3 a[": expected identifier, found EOF instead`,
		`feeds.yaml:9: sources[0].scrape.date_format: "Jan 2" is not a Go time layout giving year, month and day (it reads 2024-03-15 back as 0000-03-15; write the reference date Mon Jan 2 15:04:05 MST 2006 as the page shows dates, e.g. "2006.01.02")`,
		`feeds.yaml:10: sources[0].scrape.sumary: unknown key (did you mean "summary"?)`,
		`feeds.yaml:13: sources[1].scrape.item: required`,
		`feeds.yaml:13: sources[1].scrape.title: required`,
		`feeds.yaml:13: sources[1].scrape.link: required`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
