package publish

import (
	"errors"
	"testing"
)

func TestLocation(t *testing.T) {
	for _, tc := range []struct {
		loc  Location
		path string
	}{
		{Location{Channel: "kr.news", Format: Atom}, "/feeds/kr.news.atom"},
		{Location{Channel: "kr.news", Format: JSON}, "/feeds/kr.news.json"},
		{Location{Channel: "kr.news", Page: 12, Format: RSS}, "/feeds/kr.news/archive/12.rss"},
		{Location{Channel: "archive", Page: 1, Format: Atom}, "/feeds/archive/archive/1.atom"},
		{Location{Channel: "news.atom", Format: RSS}, "/feeds/news.atom.rss"},
	} {
		if got := tc.loc.Path(); got != tc.path {
			t.Errorf("%+v.Path() = %q, want %q", tc.loc, got, tc.path)
		}
		got, err := ParsePath(tc.path)
		if err != nil || got != tc.loc {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", tc.path, got, err, tc.loc)
		}
		url := tc.loc.URL("https://agg.example/korea")
		if got, err := ParseURL("https://agg.example/korea", url); err != nil || got != tc.loc {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", url, got, err, tc.loc)
		}
	}

	t.Run("an unknown extension still names the channel", func(t *testing.T) {
		loc, err := ParsePath("/feeds/kr.news.xml")
		if !errors.Is(err, ErrUnknownFormat) || loc.Channel != "kr.news" || loc.Page != 0 {
			t.Errorf("= %+v, %v; want channel kr.news and ErrUnknownFormat", loc, err)
		}
		loc, err = ParsePath("/feeds/kr.news/archive/3.xml")
		if !errors.Is(err, ErrUnknownFormat) || loc.Channel != "kr.news" || loc.Page != 3 {
			t.Errorf("= %+v, %v; want channel kr.news page 3 and ErrUnknownFormat", loc, err)
		}
	})
	t.Run("not documents", func(t *testing.T) {
		for _, p := range []string{
			"/feeds/", "/feeds/news", "/feeds/.atom", "/channels/news.atom", "/feeds/a/b.atom",
			"/feeds/news/archive/0.atom", "/feeds/news/archive/01.atom", "/feeds/news/archive/-1.atom",
			"/feeds/news/archive/x.atom", "/feeds/news/archive/1", "/feeds//archive/1.atom",
			"/feeds/a/b/archive/1.atom", "/feeds/news/archive/1.atom/x",
		} {
			if loc, err := ParsePath(p); !errors.Is(err, ErrNotDocument) {
				t.Errorf("ParsePath(%q) = %+v, %v; want ErrNotDocument", p, loc, err)
			}
		}
		for _, u := range []string{
			"https://other.example/feeds/news.atom", "https://agg.example/korea/feeds/news.atom?x=1",
			"https://agg.example/korea/feeds/news.atom#top", "https://agg.example/korea/feeds/%zz.atom",
			"https://agg.example/koreafeeds/news.atom",
		} {
			if loc, err := ParseURL("https://agg.example/korea", u); !errors.Is(err, ErrNotDocument) {
				t.Errorf("ParseURL(%q) = %+v, %v; want ErrNotDocument", u, loc, err)
			}
		}
	})
}
