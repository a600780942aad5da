package server

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// institute is the site of the identity tests.
var institute = feed.Site{
	Title:       "Korea Economic Institute of America",
	Description: "The Peninsula & more, on Korean affairs.",
	Language:    "en-GB",
	Footer:      `<p>Published by <a href="https://keia.org/" rel="nofollow">KEI</a>.</p>`,
}

// TestSiteIdentity: the site's name is in every page's title and banner,
// its language on <html>, its footer at the foot, its description on the
// index and in the OpenSearch document; a new identity (a reload) renames
// all of them at once.
func TestSiteIdentity(t *testing.T) {
	s := newSite(t)
	s.feeds.(*publish.Cache).SetSite(institute)
	for path, title := range map[string]string{
		"/":                       "<title>Korea Economic Institute of America</title>",
		"/channels/news":          "<title>Korea News · Korea Economic Institute of America</title>",
		"/items/" + s.first.Ref(): "<title>북한 소식 44 · Korea Economic Institute of America</title>",
		"/search?q=missiles":      "<title>Search: missiles · Korea Economic Institute of America</title>",
		"/status":                 "<title>Sources · Korea Economic Institute of America</title>",
		"/status/subscribers":     "<title>Subscribers · Korea Economic Institute of America</title>",
	} {
		resp, body := do(t, s, "GET", path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		mustContain(t, path, body, title, `<html lang="en-GB">`,
			`<a class="brand" href="/">Korea Economic Institute of America</a>`,
			`<link rel="search" type="application/opensearchdescription+xml" title="Korea Economic Institute of America" href="/opensearch.xml">`,
			`<div class="site-footer"><p>Published by <a href="https://keia.org/" rel="nofollow">KEI</a>.</p></div>`)
		if strings.Contains(body, "Published by aggregator") {
			t.Errorf("%s still says it is published by aggregator", path)
		}
	}
	_, body := do(t, s, "GET", "/")
	mustContain(t, "index", body, `<h1>Korea Economic Institute of America</h1><p class="description">The Peninsula &amp; more, on Korean affairs.</p>`)

	resp, body := do(t, s, "GET", "/opensearch.xml")
	var os struct {
		ShortName, Description, Language string
		URLs                             []struct {
			Template string `xml:"template,attr"`
		} `xml:"Url"`
	}
	if err := xml.Unmarshal([]byte(body), &os); err != nil {
		t.Fatalf("opensearch.xml: %v\n%s", err, body)
	}
	if os.ShortName != "Korea Economic" || os.Description != institute.Description || os.Language != "en-GB" ||
		len(os.URLs) != 2 || os.URLs[0].Template != "https://agg.example/search?q={searchTerms}&page={startPage?}" {
		t.Errorf("opensearch.xml (%s):\n%s", resp.Header.Get("Content-Type"), body)
	}

	// A reload with another identity.
	s.feeds.(*publish.Cache).SetSite(feed.Site{Title: "한반도 연구소", Language: "ko"})
	_, body = do(t, s, "GET", "/channels/news")
	mustContain(t, "renamed channel page", body, "<title>Korea News · 한반도 연구소</title>", `<html lang="ko">`)
	if strings.Contains(body, "site-footer") || strings.Contains(body, "Korea Economic Institute") {
		t.Error("the old identity is still shown after a new one")
	}
	_, body = do(t, s, "GET", "/opensearch.xml")
	mustContain(t, "renamed opensearch", body, "<ShortName>한반도 연구소</ShortName>", "<Description>Search 한반도 연구소</Description>", "<Language>ko</Language>")
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"The Peninsula":                       "The Peninsula",
		"Korea Economic Institute of America": "Korea Economic",
		"Supercalifragilisticexpialidocious":  "Supercalifragili",
		"한반도 정세와 경제 협력 연구소 온라인 뉴스":            "한반도 정세와 경제 협력",
	} {
		if got := shortName(in, 16); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestItemLanguage: each item's own text carries its language on the
// channel pages, the index, search results and the item page, while the
// page stays in the site's; an item of unknown language takes the page's.
func TestItemLanguage(t *testing.T) {
	s := newSite(t)
	for _, path := range []string{"/", "/channels/news"} {
		_, body := do(t, s, "GET", path)
		mustContain(t, path, body, `<html lang="en">`, `<h3 lang="ko"><a href="https://yna.example/44">북한 소식 44</a></h3>`,
			`<div class="summary" lang="ko"><p>오늘의 뉴스를 전합니다 (44).`, `<ul class="categories" lang="ko">`)
	}
	_, body := do(t, s, "GET", "/channels/news?page=3")
	mustContain(t, "page 3", body, `<h3><a href="https://keia.example/e1">Alliance &amp; Missiles</a></h3>`)
	_, body = do(t, s, "GET", "/search?q=%EB%89%B4%EC%8A%A4&sort=newest")
	mustContain(t, "search", body, `<h3 lang="ko"><a href="/items/`+s.first.Ref()+`">북한 소식 44</a></h3>`, `<p class="snippet" lang="ko">오늘의 <mark>뉴스</mark>`)
	_, body = do(t, s, "GET", "/search?q=%EB%89%B4%EC%8A%A4&format=json")
	mustContain(t, "search JSON", body, `"language":"ko"`)
	for tag, want := range map[string]string{"ko": "ko", "ko_KR": "ko-KR", "EN-us": "en-US", "": "", "und": "", "x-private": "", "korean!": ""} {
		if got := textLang(tag); got != want {
			t.Errorf("textLang(%q) = %q, want %q", tag, got, want)
		}
	}
}

// TestPinnedMarked: a pinned item is marked on its channel's pages and
// the index's preview with a word, not colour alone; the others are not.
func TestPinnedMarked(t *testing.T) {
	s := newSite(t)
	pinned := []feed.Channel{{ID: "news", Title: "Korea News", Sources: []string{"yonhap", "keia"}, Limit: 30,
		Pin: []string{"https://keia.example/e1"}}}
	if err := s.members.Configure(context.Background(), pinned, []feed.Source{{ID: "yonhap", Title: "Yonhap"}, {ID: "keia", Title: "KEI"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.members.WaitCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/channels/news"} {
		_, body := do(t, s, "GET", path)
		mustContain(t, path, body, `<article class="item pinned">`+"\n"+`<h3><a href="https://keia.example/e1">Alliance &amp; Missiles</a></h3>`+"\n"+
			`<p class="meta"><strong class="flag pin">Pinned</strong> <span class="source">KEI</span>`)
		if n := strings.Count(body, "Pinned"); n != 1 {
			t.Errorf("%s marks %d items pinned, want 1", path, n)
		}
	}
	_, body := do(t, s, "GET", "/channels/news?page=2")
	if strings.Contains(body, "Pinned") {
		t.Error("page 2 marks an item pinned")
	}
}

// TestSearchFilters: the source filter lists the sources that have
// published items, each once, by title, telling apart two that share one;
// not an empty or failing source. The channel filter lists the channels.
func TestSearchFilters(t *testing.T) {
	s := newSite(t)
	for _, src := range []string{"rsc-blog", "rsc-feed"} {
		if _, err := s.db.SavePoll(context.Background(), src, []feed.Item{{Key: "p1", Title: "Go and " + src, Link: "https://" + src + ".example/p1",
			Published: s.first.Published, Dated: true}}, feed.SourceState{}); err != nil {
			t.Fatal(err)
		}
	}
	sources := []feed.Source{{ID: "yonhap", Title: "Yonhap"}, {ID: "keia", Title: "KEI"}, {ID: "empty", Title: "An empty source"},
		{ID: "failing", Title: "A failing source"}, {ID: "rsc-feed", Title: "research!rsc"}, {ID: "rsc-blog", Title: "research!rsc"}}
	channels := []feed.Channel{
		{ID: "news", Title: "Korea News", Sources: []string{"yonhap", "keia", "empty", "failing"}, Limit: 30},
		{ID: "go", Title: "Go blogs", Sources: []string{"rsc-feed", "rsc-blog"}, Limit: 30},
	}
	if err := s.members.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	if err := s.members.WaitCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.feeds.(*publish.Cache).Configure(channels, sources); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ix.Sync(context.Background(), published{s.db, s.members}); err != nil {
		t.Fatal(err)
	}
	_, body := do(t, s, "GET", "/search?source=rsc-blog")
	mustContain(t, "search form", body, `<option value="">Any source</option>`+
		`<option value="keia">KEI</option>`+
		`<option value="rsc-blog" selected>research!rsc (rsc-blog)</option>`+
		`<option value="rsc-feed">research!rsc (rsc-feed)</option>`+
		`<option value="yonhap">Yonhap</option></select>`,
		`<option value="">Any channel</option><option value="news">Korea News</option><option value="go">Go blogs</option></select>`,
		"1 result")
	if strings.Contains(body, "empty source") || strings.Contains(body, "failing source") {
		t.Error("the source filter offers a source without published items")
	}
	// A source the form names keeps its place in the list, even empty.
	_, body = do(t, s, "GET", "/search?source=empty")
	mustContain(t, "search for an empty source", body, `<option value="empty" selected>An empty source</option>`, "0 results")

	// The list is rendered once and kept: a reload that renames a source
	// renders it again.
	_, body = do(t, s, "GET", "/search?q=go")
	mustContain(t, "search, nothing selected", body, `<option value="yonhap">Yonhap</option></select>`)
	sources[0].Title = "Yonhap News"
	if err := s.feeds.(*publish.Cache).Configure(channels, sources); err != nil {
		t.Fatal(err)
	}
	_, body = do(t, s, "GET", "/search?q=go&source=yonhap")
	mustContain(t, "search after a rename", body, `<option value="yonhap" selected>Yonhap News</option></select>`)
}
