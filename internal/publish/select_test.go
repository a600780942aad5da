package publish

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// A Korean news channel over two outlets: every third Yonhap item is an
// advertisement, Hankyoreh runs English items too, and staff pinned an old
// report and hid one story.
func curatedReader() *fakeReader {
	r := &fakeReader{items: map[string][]feed.Item{}}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		it := testItem("yonhap", fmt.Sprintf("id:AKR%04d", i))
		it.ID = fmt.Sprintf("AKR%04d", i)
		it.Link = fmt.Sprintf("https://www.yna.co.kr/view/AKR%04d", i)
		it.Title = fmt.Sprintf("북한 기사 %d", i)
		if i%3 == 0 {
			it.Title = "[광고] " + it.Title
		}
		it.Language = "ko"
		it.Published = base.Add(time.Duration(i) * time.Hour)
		r.items["yonhap"] = append(r.items["yonhap"], it)

		h := testItem("hani", fmt.Sprintf("link:https://www.hani.co.kr/arti/%d.html", i))
		h.Link = fmt.Sprintf("https://www.hani.co.kr/arti/%d.html", i)
		h.Title = fmt.Sprintf("한겨레 %d", i)
		h.Language = "ko"
		if i%2 == 0 {
			h.Language, h.Title = "en", fmt.Sprintf("Hankyoreh English %d", i)
		}
		h.Published = base.Add(time.Duration(i)*time.Hour + 30*time.Minute)
		r.items["hani"] = append(r.items["hani"], h)
	}
	return r
}

func TestSelectFiltersAndStillFillsLimit(t *testing.T) {
	r := curatedReader()
	sources := []feed.Source{
		{ID: "yonhap", Tags: []string{"ko"}, Curation: feed.Curation{Exclude: []feed.Rule{{Field: "title", Pattern: `^\[광고\]`, Regexp: true}}}},
		{ID: "hani", Tags: []string{"ko"}, Limit: 3},
	}
	ch := feed.Channel{ID: "korea", Title: "Korea", Tags: []string{"ko"}, Limit: 12,
		Curation: feed.Curation{Languages: []string{"ko"}, Hide: []string{"http://yna.co.kr/view/AKR0058/"}},
		Pin:      []string{"https://www.yna.co.kr/view/AKR0001", "https://nowhere.example/gone"}}
	sel, err := Select(r, ch, sources, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range sel.Items {
		got = append(got, it.Title)
	}
	want := []string{
		"북한 기사 1", // pinned, from long before the window
		"한겨레 59", "북한 기사 59", "한겨레 57", "북한 기사 56", "한겨레 55", "북한 기사 55",
		"북한 기사 53", "북한 기사 52", "북한 기사 50", "북한 기사 49", "북한 기사 47",
	}
	if !slices.Equal(got, want) {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sel.Pinned != 1 {
		t.Errorf("Pinned=%d, want 1", sel.Pinned)
	}
	reasons := map[string]string{}
	for _, d := range sel.Decisions {
		if !d.Keep {
			reasons[d.Item.Title] = d.Reason
		}
	}
	for title, want := range map[string]string{
		"북한 기사 58":             "hidden by channel korea",
		"[광고] 북한 기사 57":        `excluded by source yonhap rule "title: /^\[광고\]/"`,
		"Hankyoreh English 58": `language "en" not in channel korea languages [ko]`,
		"한겨레 53":               "beyond source hani limit 3",
	} {
		if !strings.Contains(reasons[title], want) {
			t.Errorf("reason for %q=%q, want %q", title, reasons[title], want)
		}
	}
	// Reads stay near limit + dropped: 11 kept + about 12 dropped, in pages.
	if n := len(sel.Decisions); n > 40 {
		t.Errorf("examined %d items for 12 shown", n)
	}
}

func TestSelectStoreExhausted(t *testing.T) {
	r := curatedReader()
	sources := []feed.Source{{ID: "hani", Tags: []string{"ko"}}}
	ch := feed.Channel{ID: "en", Title: "English", Tags: []string{"ko"}, Limit: 50,
		Curation: feed.Curation{Include: []feed.Rule{{Pattern: "english"}}}}
	sel, err := Select(r, ch, sources, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(sel.Items), 30; got != want {
		t.Errorf("items=%d, want %d (every English item of 60)", got, want)
	}
	if got, want := len(sel.Decisions), 60; got != want {
		t.Errorf("examined=%d, want %d", got, want)
	}
}

func TestCacheShowsCuratedChannel(t *testing.T) {
	r := curatedReader()
	sources := []feed.Source{{ID: "yonhap", Tags: []string{"ko"}}}
	ch := feed.Channel{ID: "ads", Title: "No ads", Tags: []string{"ko"}, Limit: 5,
		Curation: feed.Curation{Exclude: []feed.Rule{{Pattern: "광고"}}},
		Pin:      []string{"AKR0002"}}
	c := NewCache(r, "http://aggregator.test")
	if err := c.Configure([]feed.Channel{ch}, sources); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Snapshot("ads")
	if s.Pinned != 1 || len(s.Items) != 5 || s.Items[0].ID != "AKR0002" {
		t.Fatalf("snapshot pinned=%d items=%d first=%q", s.Pinned, len(s.Items), s.Items[0].ID)
	}
	atom := string(s.Docs[Atom].Body)
	if strings.Contains(atom, "광고") || !strings.Contains(atom, "북한 기사 59") {
		t.Errorf("atom shows ads or misses the newest item:\n%s", atom)
	}
}

func BenchmarkSelect(b *testing.B) {
	r := curatedReader()
	sources := []feed.Source{
		{ID: "yonhap", Tags: []string{"ko"}, Curation: feed.Curation{Exclude: []feed.Rule{{Field: "title", Pattern: `^\[광고\]`, Regexp: true}}}},
		{ID: "hani", Tags: []string{"ko"}},
	}
	ch := feed.Channel{ID: "korea", Title: "Korea", Tags: []string{"ko"}, Limit: 50,
		Curation: feed.Curation{Languages: []string{"ko"}, Exclude: []feed.Rule{{Pattern: "속보"}}}}
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := Select(r, ch, sources, now); err != nil {
			b.Fatal(err)
		}
	}
}
