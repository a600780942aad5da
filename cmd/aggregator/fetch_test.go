package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/feed"
)

// TestFetchTableFits prints results with a long source id, a long Korean
// URL (each Hangul syllable takes two columns), a long error of two joined
// errors and validators: every line of the table fits tableWidth display
// columns, cut ones end in "…", the columns line up, and each error
// follows the table in full.
func TestFetchTableFits(t *testing.T) {
	longErr := errors.Join(errors.New("poll chosun: fetch https://www.chosun.com/arc/outboundfeeds/rss/category/politics/?outputType=xml: unexpected HTTP status 503 Service Unavailable"),
		errors.New("poll chosun: record failure: save state chosun: database is full"))
	korean := "https://news.example.kr/" + strings.Repeat("북한미사일발사", 12)
	home := "https://blog.example.kr/" + strings.Repeat("한반도", 20)
	next := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	states := map[string]feed.SourceState{
		"chosun": {Errors: 12, Items: 4000, LastSuccess: next.Add(-48 * time.Hour)},
		"kei":    {Items: 35, ETag: `"abc"`, LastModified: "Sun, 01 Mar 2026 08:00:00 GMT", LastSuccess: next},
		"peninsula": {Items: 2, ETag: `"r1"`, LastSuccess: next,
			ConfiguredURL: home, DiscoveredURL: "https://blog.example.kr/rss"},
	}
	results := []app.Polled{
		{SourceID: "chosun", URL: "https://www.chosun.com/arc/outboundfeeds/rss/category/politics/?outputType=xml", Status: 503, Error: longErr.Error(), NextPoll: next, State: states["chosun"]},
		{SourceID: "korea-joongang-daily-politics-and-north-korea", URL: korean, Status: 200, Counts: feed.PollCounts{New: 120, Unchanged: 3}, NextPoll: next,
			Warning: "redirected permanently to " + korean + " (seen on 1 of 3 polls needed to adopt it)"},
		{SourceID: "kei", URL: "https://keia.org/feed/", Status: 304, NotModified: true, NextPoll: next, State: states["kei"]},
		{SourceID: "peninsula", URL: "https://blog.example.kr/rss", Status: 200, Counts: feed.PollCounts{New: 2}, NextPoll: next,
			Warning: "discovered: " + home + " announces the feed https://blog.example.kr/rss, polled from now on", State: states["peninsula"]},
	}
	var out bytes.Buffer
	failed, _ := printResults(&out, results)
	if failed != 1 {
		t.Errorf("failed=%d, want 1", failed)
	}
	t.Logf("\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	table, rest := lines, []string(nil)
	for i, l := range lines {
		if strings.HasPrefix(l, "error: ") {
			table, rest = lines[:i], lines[i:]
			break
		}
	}
	if got, want := len(table), 1+4*3+1; got != want { // the header; four rows, each with its URL and its note, one with the page it was discovered on
		t.Errorf("table lines=%d, want %d", got, want)
	}
	for i, l := range table {
		if w := displayWidth(l); w > tableWidth {
			t.Errorf("line %d is %d columns wide, over %d: %q", i+1, w, tableWidth, l)
		}
	}
	next0 := displayWidth(table[0][:strings.Index(table[0], "NEXT POLL")])
	for _, l := range table[1:] {
		if at := strings.LastIndex(l, "03-01 09:30Z"); !strings.HasPrefix(l, "  ") && displayWidth(l[:at]) != next0 {
			t.Errorf("row %q: NEXT POLL not at column %d", l, next0)
		}
	}
	for _, want := range []string{
		"korea-joongang-dail…  200",
		"  https://news.example.kr/북한미사일발사",
		"  https://keia.org/feed/ (ETag, Last-Modified)",
		"  not modified",
		"  https://blog.example.kr/rss (ETag)\n  feed discovered on https://blog.example.kr/한반도",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, i := range []int{3, 5, 6, 12, 13} {
		if !strings.HasSuffix(table[i], "…") {
			t.Errorf("line %d is not cut: %q", i+1, table[i])
		}
	}
	if got, want := strings.Join(rest, "\n"), "error: "+strings.ReplaceAll(longErr.Error(), "\n", "; "); got != want {
		t.Errorf("after the table:\n%s\nwant\n%s", got, want)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cols int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven cols", 10, "eleven co…"},
		{"북한미사일", 10, "북한미사일"},   // 5 wide syllables: 10 columns
		{"북한미사일발사", 10, "북한미사…"}, // 8 columns and the ellipsis: the next syllable would not fit
		{"a\nb\tc", 10, "a b c"},
		{"e\u0301tude", 5, "e\u0301tude"}, // a combining accent takes no column
	} {
		if got := clip(tc.in, tc.cols); got != tc.want {
			t.Errorf("clip(%q, %d)=%q, want %q", tc.in, tc.cols, got, tc.want)
		}
	}
}
