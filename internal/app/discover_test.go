package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"golang.org/x/text/encoding/korean"
)

// TestHomePageFollowedToItsFeed: a source configured as a Korean blog's home
// page (EUC-KR, announcing its comments feed first and its posts' feed on a
// feeds host of its own) is followed to the posts' feed, whose items end up
// in the channel's documents; /status shows the discovered feed, and later
// polls are conditional GETs of the feed, not of the page.
func TestHomePageFollowedToItsFeed(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	posts := apptest.NewPage("/rss", "application/rss+xml", read("peninsula.rss"))
	feedsBase := apptest.Serve(t, posts)
	comments := apptest.NewPage("/comments.rss", "application/rss+xml", read("seminars.rss"))
	html, err := korean.EUCKR.NewEncoder().String(fmt.Sprintf(`<!DOCTYPE html>
<html lang="ko"><head><meta charset="euc-kr"><title>한반도 연구소 블로그</title>
<link rel="alternate" type="application/rss+xml" title="최근 댓글 RSS" href="/comments.rss">
<link rel="alternate" type="application/rss+xml" title="전체 글 RSS" href="%s/rss">
</head><body><p>최근 글</p></body></html>`, feedsBase))
	if err != nil {
		t.Fatal(err)
	}
	home := apptest.NewPage("/", "text/html", []byte(html))
	mux := http.NewServeMux()
	mux.Handle("/comments.rss", comments)
	mux.Handle("/", home)
	homeBase := apptest.Serve(t, mux)

	base := startApp(t, writeFile(t, fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: peninsula-blog, url: %q, interval: 1s }
channels:
  - { id: korea, title: Korea, sources: [peninsula-blog] }
`, filepath.Join(t.TempDir(), "aggregator.db"), homeBase+"/"))).base

	apptest.WaitForItems(t, base, "korea", 2)
	_, titles := apptest.JSONTitles(t, base, "korea")
	if want := []string{"Alliance Politics After the Summit", "한반도 정세와 경제 협력"}; !slices.Equal(titles, want) {
		t.Errorf("channel titles %q, want the posts' feed's %q", titles, want)
	}
	if n := len(comments.Requests()); n != 0 {
		t.Errorf("the comments feed was requested %d times", n)
	}

	var st struct {
		Sources []struct {
			ID            string `json:"id"`
			ConfiguredURL string `json:"configured_url"`
			CurrentURL    string `json:"current_url"`
			DiscoveredURL string `json:"discovered_url"`
			Errors        int    `json:"consecutive_errors"`
		} `json:"sources"`
	}
	_, body := apptest.Get(t, base+"/status?format=json")
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(st.Sources) != 1 || st.Sources[0].DiscoveredURL != feedsBase+"/rss" || st.Sources[0].CurrentURL != feedsBase+"/rss" ||
		st.Sources[0].ConfiguredURL != homeBase+"/" || st.Sources[0].Errors != 0 {
		t.Errorf("status %s", body)
	}

	apptest.Eventually(t, "a conditional poll of the feed", func() bool {
		return slices.ContainsFunc(posts.Requests(), func(r *http.Request) bool { return r.Header.Get("If-None-Match") != "" })
	})
	if n := len(home.Requests()); n != 1 {
		t.Errorf("the home page was requested %d times, want once", n)
	}
}
