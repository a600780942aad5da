package curate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// Items as the parser leaves them for a Korean daily's politics feed and an
// English think-tank blog.
func yonhapItem() feed.Item {
	return feed.Item{
		SourceID: "yonhap-ko", Key: "id:AKR20260310001", ID: "AKR20260310001",
		Link:       "https://www.yna.co.kr/view/AKR20260310001?section=politics",
		Title:      "[속보] 북한, 동해상으로 탄도미사일 발사",
		Summary:    "<p>합동참모본부는 10일 <b>북한</b>이 동해상으로 탄도미사일을 발사했다고 밝혔다.</p>",
		Authors:    []feed.Person{{Name: "김철수 기자"}},
		Categories: []feed.Category{{Term: "정치"}, {Term: "북한"}},
		Language:   "ko-KR", Published: now.Add(-2 * time.Hour),
	}
}

func keiItem() feed.Item {
	return feed.Item{
		SourceID: "kei", Key: "id:https://keia.org/?p=1234", ID: "https://keia.org/?p=1234",
		Link:       "https://keia.org/the-peninsula/sponsored-event-recap/",
		Title:      "ＳＰＯＮＳＯＲＥＤ: Event recap – İstanbul forum on Korea",
		Content:    "<p>Our partners in &quot;Seoul&quot; and İstanbul…</p>",
		Authors:    []feed.Person{{Name: "Troy Stangarone"}},
		Categories: []feed.Category{{Term: "Events", Label: "Events & Forums"}},
		Language:   "en", Published: now.Add(-40 * 24 * time.Hour),
	}
}

func rules(specs ...string) []feed.Rule {
	var rs []feed.Rule
	for _, s := range specs {
		field, pat, ok := strings.Cut(s, "=")
		if !ok {
			field, pat = "", s
		}
		r := feed.Rule{Field: field, Pattern: pat}
		if len(pat) > 1 && pat[0] == '/' && pat[len(pat)-1] == '/' {
			r.Pattern, r.Regexp = pat[1:len(pat)-1], true
		}
		rs = append(rs, r)
	}
	return rs
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      feed.Curation
		it     feed.Item
		keep   bool
		reason string
	}{
		{"no rules keeps", feed.Curation{}, yonhapItem(), true, ""},
		{"korean keyword in title", feed.Curation{Include: rules("title=미사일")}, yonhapItem(), true, ""},
		{"korean keyword in summary html", feed.Curation{Include: rules("summary=합동참모본부")}, yonhapItem(), true, ""},
		{"half a syllable does not match", feed.Curation{Include: rules("미")}, feed.Item{Title: "밍"}, false, "matches none of the 1 include rules"},
		{"category keyword", feed.Curation{Exclude: rules("category=북한")}, yonhapItem(), false, `excluded by test rule "category: 북한"`},
		{"author keyword", feed.Curation{Include: rules("author=김철수")}, yonhapItem(), true, ""},
		{"full-width folds to ascii", feed.Curation{Exclude: rules("sponsored")}, keiItem(), false, "excluded by test"},
		{"turkish dotted capital I", feed.Curation{Include: rules("content=istanbul")}, keiItem(), true, ""},
		{"entity decoded", feed.Curation{Include: rules(`content="seoul"`)}, keiItem(), true, ""},
		{"category label", feed.Curation{Include: rules("category=forums")}, keiItem(), true, ""},
		{"url keyword", feed.Curation{Exclude: rules("url=/sponsored-")}, keiItem(), false, "excluded"},
		{"url keyword not in text", feed.Curation{Exclude: rules("section")}, yonhapItem(), true, ""},
		{"url regexp", feed.Curation{Include: rules(`url=/[?&]section=politics\b/`)}, yonhapItem(), true, ""},
		{"regexp is case-sensitive unless told", feed.Curation{Exclude: rules(`title=/^sponsored/`)}, keiItem(), true, ""},
		{"regexp title prefix", feed.Curation{Exclude: rules(`title=/^\[속보\]/`)}, yonhapItem(), false, "excluded"},
		{"exclude wins over include", feed.Curation{Include: rules("북한"), Exclude: rules("속보")}, yonhapItem(), false, "excluded"},
		{"any include matches", feed.Curation{Include: rules("nuclear", "탄도미사일")}, yonhapItem(), true, ""},
		{"no include matches", feed.Curation{Include: rules("nuclear", "sanctions")}, yonhapItem(), false, "matches none of the 2 include rules of test"},
		{"language prefix", feed.Curation{Languages: []string{"ko"}}, yonhapItem(), true, ""},
		{"language other", feed.Curation{Languages: []string{"ko"}}, keiItem(), false, `language "en" not in test languages [ko]`},
		{"language underscore", feed.Curation{Languages: []string{"ko-kr"}}, feed.Item{Language: "ko_KR"}, true, ""},
		{"language is not a string prefix", feed.Curation{Languages: []string{"ko"}}, feed.Item{Language: "kok"}, false, "language"},
		{"unknown language kept", feed.Curation{Languages: []string{"ko"}}, feed.Item{Title: "x"}, true, ""},
		{"max age", feed.Curation{MaxAge: 30 * 24 * time.Hour}, keiItem(), false, "older than test max_age 30d"},
		{"within max age", feed.Curation{MaxAge: 30 * 24 * time.Hour}, yonhapItem(), true, ""},
		{"hide by link, other scheme and slash", feed.Curation{Hide: []string{"http://keia.org/the-peninsula/sponsored-event-recap"}}, keiItem(), false, "hidden by test"},
		{"hide by id", feed.Curation{Hide: []string{"AKR20260310001"}}, yonhapItem(), false, "hidden by test (hide: AKR20260310001)"},
		{"hide other item", feed.Curation{Hide: []string{"https://keia.org/other/"}}, keiItem(), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.c, "test")
			if err != nil {
				t.Fatal(err)
			}
			v := f.Check(tc.it, now)
			if v.Keep != tc.keep || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("Check=%+v, want keep=%v reason containing %q", v, tc.keep, tc.reason)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, r := range []feed.Rule{
		{Pattern: "(unclosed", Regexp: true},
		{Pattern: `\p{Hangul`, Regexp: true},
		{Pattern: "  "},
		{Field: "body", Pattern: "x"},
	} {
		if err := CompileRule(r); err == nil {
			t.Errorf("CompileRule(%v) accepted", r)
		}
	}
	if err := CompileRule(feed.Rule{Field: "title", Pattern: `\p{Hangul}+`, Regexp: true}); err != nil {
		t.Errorf("Hangul class refused: %v", err)
	}
}

func TestJudge(t *testing.T) {
	sources := []feed.Source{
		{ID: "yonhap", Tags: []string{"news"}, Limit: 2, Curation: feed.Curation{MaxAge: 24 * time.Hour}},
		{ID: "kei", Tags: []string{"news"}, Curation: feed.Curation{Exclude: rules("sponsored")}},
		{ID: "hani", Curation: feed.Curation{Hide: []string{"https://hani.co.kr/hidden"}}}, // not selected
	}
	ch := feed.Channel{ID: "korea", Tags: []string{"news"}, Limit: 10,
		Curation: feed.Curation{Exclude: rules("title=/^\\[AD\\]/"), MaxAge: 48 * time.Hour, Hide: []string{"https://yna.co.kr/hidden"}},
		Pin:      []string{"https://keia.org/pinned-report/"}}
	cc, err := ForChannel(ch, sources)
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.Sources(); strings.Join(got, ",") != "yonhap,kei" {
		t.Errorf("Sources = %v", got)
	}
	item := func(src, title, link string, origins ...feed.Origin) feed.Item {
		return feed.Item{SourceID: src, Key: "link:" + link, Link: link, Title: title, Published: now, Origins: origins}
	}
	from := func(src, link string) feed.Origin { return feed.Origin{SourceID: src, Key: "link:" + link, Link: link} }
	day := now.Add(24 * time.Hour)
	for _, tc := range []struct {
		name   string
		it     feed.Item
		pin    int
		via    string // "source:limit:until-hours", comma separated
		reason string
	}{
		{"kept through one source, with its limit and max_age", item("yonhap", "one", "https://yna.co.kr/1"), -1, "yonhap:2:24", ""},
		{"kept through the other, the channel's max_age", item("kei", "analysis", "https://keia.org/a"), -1, "kei:0:48", ""},
		{"source exclude", item("kei", "Sponsored post", "https://keia.org/s"), -1, "", `excluded by source kei rule "sponsored"`},
		{"channel exclude", item("yonhap", "[AD] buy", "https://yna.co.kr/ad"), -1, "", `excluded by channel korea rule`},
		{"a merged copy keeps it through its own source", item("kei", "Sponsored post", "https://keia.org/s", from("yonhap", "https://yna.co.kr/s")), -1, "yonhap:2:24", ""},
		{"pinned whatever the rules", item("kei", "Sponsored old report", "http://keia.org/pinned-report"), 0, "", ""},
		{"pinned through a merged copy's link", item("yonhap", "report", "https://yna.co.kr/r", from("kei", "https://keia.org/pinned-report")), 0, "", ""},
		{"channel hide by a copy's link", item("kei", "x", "https://keia.org/x", from("yonhap", "https://yna.co.kr/hidden")), -1, "", "hidden by channel korea"},
		{"hidden by a carrier the channel does not select", item("kei", "x", "https://keia.org/y", from("hani", "https://hani.co.kr/hidden")), -1, "", "hidden by source hani"},
		{"carried only by unselected sources", item("hani", "x", "https://hani.co.kr/z"), -1, "", "carried by no source the channel selects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := cc.Judge(tc.it)
			var via []string
			for _, v := range j.Via {
				via = append(via, fmt.Sprintf("%s:%d:%d", v.Source, v.Limit, int(v.Until.Sub(now).Hours())))
			}
			if j.Pin != tc.pin || strings.Join(via, ",") != tc.via || !strings.Contains(j.Reason, tc.reason) || (tc.reason == "" && j.Reason != "") {
				t.Errorf("Judge = pin %d via %v reason %q; want pin %d via %q reason %q", j.Pin, via, j.Reason, tc.pin, tc.via, tc.reason)
			}
		})
	}

	t.Run("member through a limited source only within its limit", func(t *testing.T) {
		j := cc.Judge(item("yonhap", "one", "https://yna.co.kr/1"))
		if ok, _ := j.Member(func(string) bool { return false }); ok {
			t.Error("member beyond the source's limit")
		}
		ok, until := j.Member(func(string) bool { return true })
		if !ok || !until.Equal(day) {
			t.Errorf("Member = %v until %v, want true until %v", ok, until, day)
		}
		if !j.Live(day.Add(-time.Second)) || j.Live(day) {
			t.Error("Live does not follow the source's max_age")
		}
	})
	t.Run("member until the latest carrier's max_age", func(t *testing.T) {
		j := cc.Judge(item("kei", "analysis", "https://keia.org/a2", from("yonhap", "https://yna.co.kr/a2")))
		ok, until := j.Member(func(string) bool { return true })
		if !ok || !until.Equal(now.Add(48*time.Hour)) {
			t.Errorf("Member = %v until %v, want 48h", ok, until)
		}
		ok, until = j.Member(func(string) bool { return false }) // out of yonhap's limit: kei alone
		if !ok || !until.Equal(now.Add(48*time.Hour)) {
			t.Errorf("Member without yonhap = %v until %v", ok, until)
		}
	})
	t.Run("pins never age", func(t *testing.T) {
		j := cc.Judge(item("kei", "report", "https://keia.org/pinned-report"))
		if ok, until := j.Member(nil); !ok || !until.IsZero() || !j.Live(now.AddDate(10, 0, 0)) {
			t.Errorf("pinned: Member = %v until %v", ok, until)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	f, err := Compile(feed.Curation{Include: rules("미사일", "nuclear", `title=/제재|sanction/`), Exclude: rules("광고", "sponsored")}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	it := yonhapItem()
	for b.Loop() {
		f.Check(it, now)
	}
}
