package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// clock is a Now that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// guidItem is an item as the parser delivers it: keyed by GUID when it has
// one (policy auto), else by canonical link, with a canonical link.
func guidItem(guid, link, title string, pub time.Time) feed.Item {
	it := feed.Item{
		ID:        guid,
		Link:      feed.CanonicalURL(link),
		Title:     title,
		Summary:   "<p>" + title + "</p>",
		Published: pub,
		Updated:   pub,
		Dated:     !pub.IsZero(),
	}
	it.Key = feed.Identity(guid, link, title, it.Summary)
	return it
}

// kst is Korea Standard Time, in which the feeds below date their items.
var kst = time.FixedZone("KST", 9*3600)

// yonhap is one Yonhap story as three outlets carry it: the agency itself,
// a paper that links to the agency's page with its own tracking
// parameters over http, and a paper that rewrote the link to its own page
// and the title's punctuation.
func yonhap(pub time.Time) (agency, viaLink, viaTitle feed.Item) {
	agency = guidItem("AKR20250301000100504", "https://www.yna.co.kr/view/AKR20250301000100504?input=1195m",
		"北, 동해상으로 탄도미사일 발사…합참 \"추가 도발 대비\"", pub)
	viaLink = guidItem("hani-1185021", "http://www.yna.co.kr/view/AKR20250301000100504?input=1195m&utm_source=hani&utm_medium=rss",
		"北, 동해상으로 탄도미사일 발사…합참 \"추가 도발 대비\"", pub.Add(20*time.Minute))
	viaTitle = guidItem("", "https://news.kmib.co.kr/article/view.asp?arcid=0020912345&code=61111111&sid1=pol",
		"[속보] 北 동해상으로 탄도미사일 발사 ‘합참, 추가 도발 대비’", pub.Add(2*time.Hour))
	return agency, viaLink, viaTitle
}

// testStories is the story rules end to end: one story from three outlets
// (the same link, then the same folded title within the window) is stored
// once, under its first source, with the others as origins.
func testStories(t *testing.T, b Backend) {
	clk := newClock()
	s := open(t, b, Options{Now: clk.Now, TitleWindow: 48 * time.Hour})
	mustSave := func(t *testing.T, src string, items ...feed.Item) feed.PollCounts {
		t.Helper()
		for i := range items {
			items[i].SourceID = src
		}
		return save(t, s, src, items)
	}
	keys := func(items []feed.Item) []string {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = it.Key
		}
		return out
	}
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	agency, viaLink, viaTitle := yonhap(pub)
	mustSave(t, "yonhap", agency, guidItem("AKR2", "https://www.yna.co.kr/view/AKR2", "한미 외교장관 통화", pub.Add(-time.Hour)))
	clk.Advance(time.Minute)
	if got, want := mustSave(t, "hani", viaLink), (feed.PollCounts{Merged: 1}); got != want {
		t.Errorf("hani counts = %+v, want %+v", got, want)
	}
	clk.Advance(time.Minute)
	if got, want := mustSave(t, "kmib", viaTitle), (feed.PollCounts{Merged: 1}); got != want {
		t.Errorf("kmib counts = %+v, want %+v", got, want)
	}

	all := stored3(t, s, "yonhap", "hani", "kmib")
	if got, want := keys(all), []string{agency.Key, "id:AKR2"}; !slices.Equal(got, want) {
		t.Fatalf("channel keys = %q, want %q: the story once", got, want)
	}
	st := all[0]
	if st.SourceID != "yonhap" {
		t.Errorf("attributed to %q, want the first origin yonhap", st.SourceID)
	}
	wantOrigins := []feed.Origin{
		{SourceID: "hani", Key: viaLink.Key, Link: viaLink.Link, Rule: story.RuleLink, Seen: epoch.Add(time.Minute)},
		{SourceID: "kmib", Key: viaTitle.Key, Link: viaTitle.Link, Rule: story.RuleTitle, Seen: epoch.Add(2 * time.Minute)},
	}
	if len(st.Origins) != 2 {
		t.Fatalf("origins = %+v, want %+v", st.Origins, wantOrigins)
	}
	for i, o := range st.Origins {
		w := wantOrigins[i]
		if o.SourceID != w.SourceID || o.Key != w.Key || o.Link != w.Link || o.Rule != w.Rule || !o.Seen.Equal(w.Seen) {
			t.Errorf("origin %d = %+v, want %+v", i, o, w)
		}
	}

	t.Run("a channel of one later source still shows it", func(t *testing.T) {
		only := stored3(t, s, "kmib")
		if len(only) != 1 || only[0].SourceID != "yonhap" || only[0].Key != agency.Key || len(only[0].Origins) != 2 {
			t.Errorf("kmib alone = %+v, want the yonhap story with its origins", only)
		}
		two := stored3(t, s, "hani", "kmib")
		if got, want := keys(two), []string{agency.Key}; !slices.Equal(got, want) {
			t.Errorf("hani+kmib keys = %q, want %q", got, want)
		}
	})
	t.Run("Locate", func(t *testing.T) {
		for _, q := range []string{"kmib/" + viaTitle.Key, "hani-1185021", "https://www.yna.co.kr/view/AKR20250301000100504?input=1195m"} {
			found, err := s.Locate(bg, q)
			if err != nil || len(found) == 0 || found[0].Story.SourceID != "yonhap" || found[0].Story.Key != agency.Key {
				t.Errorf("Locate(%q) = %+v, %v; want the yonhap story", q, found, err)
			}
		}
	})
	t.Run("counts", func(t *testing.T) {
		if n := count(t, s); n != 2 {
			t.Errorf("Count = %d, want 2 stories", n)
		}
		for src, want := range map[string]int{"yonhap": 2, "hani": 1, "kmib": 1} {
			if n, err := s.SourceItemCount(bg, src); err != nil || n != want {
				t.Errorf("SourceItemCount(%s) = %d, %v; want %d", src, n, err, want)
			}
			if st, err := s.State(bg, src); err != nil || st.Items != want {
				t.Errorf("State(%s).Items = %d, %v; want %d", src, st.Items, err, want)
			}
		}
	})
	t.Run("re-polls do not re-create the copies", func(t *testing.T) {
		clk.Advance(time.Hour)
		edited := viaTitle
		edited.Summary = "<p>다른 요약</p>" // a copy's text does not replace the story's
		if got, want := mustSave(t, "kmib", edited), (feed.PollCounts{Unchanged: 1}); got != want {
			t.Errorf("kmib re-poll = %+v, want %+v", got, want)
		}
		if got, want := mustSave(t, "hani", viaLink), (feed.PollCounts{Unchanged: 1}); got != want {
			t.Errorf("hani re-poll = %+v, want %+v", got, want)
		}
		if got := stored3(t, s, "yonhap", "hani", "kmib"); len(got) != 2 || len(got[0].Origins) != 2 || got[0].Summary != agency.Summary {
			t.Errorf("after re-polls: %d stories, origins %+v, summary %q", len(got), got[0].Origins, got[0].Summary)
		}
	})
	t.Run("an edit of the story keeps its origins", func(t *testing.T) {
		edited := agency
		edited.Title += " (종합)"
		if got, want := mustSave(t, "yonhap", edited), (feed.PollCounts{Updated: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
		if it, err := s.Item(bg, "yonhap", agency.Key); err != nil || len(it.Origins) != 2 {
			t.Errorf("origins after an edit = %+v, %v", it.Origins, err)
		}
	})
	t.Run("a fourth outlet with the second outlet's link", func(t *testing.T) {
		fourth := guidItem("", "https://news.kmib.co.kr/article/view.asp?sid1=pol&code=61111111&arcid=0020912345&fbclid=x", "북한 미사일", pub.Add(3*time.Hour))
		if got, want := mustSave(t, "kmib-politics", fourth), (feed.PollCounts{Merged: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})
}

func stored3(t testing.TB, s store.Store, srcs ...string) []feed.Item {
	t.Helper()
	its, err := s.ItemsAfter(bg, srcs, nil, 10)
	if err != nil {
		t.Fatalf("ItemsAfter(%v): %v", srcs, err)
	}
	return its
}
