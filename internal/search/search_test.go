package search

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// published is a store whose items every channel publishes ("news", and
// "north" for 38north's) but those marked hidden.
type published struct {
	*bolt.DB
	hidden map[string]bool // by key
}

func (p *published) Judged(context.Context) (uint64, error) { return math.MaxUint64, nil }

func (p *published) ChannelsOf(_ context.Context, it feed.Item) ([]string, error) {
	switch {
	case p.hidden[it.Key]:
		return nil, nil
	case it.SourceID == "38north":
		return []string{"news", "north"}, nil
	}
	return []string{"news"}, nil
}

func openStore(t testing.TB) *published {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	return &published{DB: db, hidden: map[string]bool{}}
}

func openIndex(t testing.TB, dir string) *Index {
	t.Helper()
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func item(src, key, title, summary string, pub time.Time) feed.Item {
	return feed.Item{SourceID: src, Key: key, Title: title, Summary: summary, Published: pub, Dated: true, Link: "https://example.org/" + key}
}

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func save(t testing.TB, db *published, src string, items ...feed.Item) {
	t.Helper()
	if _, err := db.SavePoll(context.Background(), src, items, feed.SourceState{SourceID: src}); err != nil {
		t.Fatal(err)
	}
}

func refs(t *testing.T, ix *Index, q Query) []string {
	t.Helper()
	res, err := ix.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	var out []string
	for _, h := range res.Hits {
		_, key, ok := feed.ParseItemRef(h.Ref)
		if !ok {
			t.Fatalf("hit %q is not an item ref", h.Ref)
		}
		out = append(out, key)
	}
	if int(res.Total) < len(out) {
		t.Errorf("total %d < %d hits", res.Total, len(out))
	}
	return out
}

func TestSearch(t *testing.T) {
	db := openStore(t)
	save(t, db, "yonhap",
		item("yonhap", "k1", "북한 미사일 발사", "<p>합참은 오늘 <b>뉴스를</b> 통해 발표했다.</p>", day0),
		item("yonhap", "k2", "경제 소식", "<p>수출이 늘었다.</p>", day0.Add(48*time.Hour)),
	)
	save(t, db, "38north",
		item("38north", "e1", "Missile Launches Reviewed", "<p>Pyongyang tested a new missile.</p>", day0.Add(24*time.Hour)),
		item("38north", "e2", "Satellite imagery", "<p>Yongbyon &amp; the missile programme's reactor.</p>", day0.Add(72*time.Hour)),
	)
	ix := openIndex(t, filepath.Join(t.TempDir(), "idx"))
	n, err := ix.Sync(context.Background(), db)
	if err != nil || n != 4 {
		t.Fatalf("Sync = %d, %v; want 4", n, err)
	}
	if c, _ := ix.Count(); c != 4 {
		t.Errorf("Count = %d, want 4", c)
	}

	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"a Hangul word inside a longer one", Query{Text: "뉴스"}, []string{"k1"}},
		{"a Hangul word in a title", Query{Text: "미사일"}, []string{"k1"}},
		{"one Hangul syllable finds the words it starts", Query{Text: "북"}, []string{"k1"}},
		{"one Hangul syllable inside a word is not a start", Query{Text: "한"}, nil},
		{"an English word finds longer words it starts", Query{Text: "launch"}, []string{"e1"}},
		{"and words it starts inside one token", Query{Text: "program"}, []string{"e2"}},
		{"a word under four letters is matched whole", Query{Text: "rea"}, nil},
		{"English, any case, relevance puts the title match first", Query{Text: "MISSILE"}, []string{"e1", "e2"}},
		{"newest first", Query{Text: "missile", Newest: true}, []string{"e2", "e1"}},
		{"every word must match", Query{Text: "missile reactor"}, []string{"e2"}},
		{"by source", Query{Text: "missile", Sources: []string{"yonhap"}}, nil},
		{"empty source list matches nothing", Query{Sources: []string{}}, nil},
		{"no words lists newest first", Query{Sources: []string{"yonhap"}}, []string{"k2", "k1"}},
		{"date range, inclusive", Query{From: day0.Add(24 * time.Hour), To: day0.Add(48 * time.Hour)}, []string{"k2", "e1"}},
		{"by channel", Query{Text: "missile", Channel: "north"}, []string{"e1", "e2"}},
		{"by a channel that publishes none", Query{Text: "미사일", Channel: "north"}, nil},
		{"no match", Query{Text: "banana"}, nil},
		{"paging", Query{Newest: true, Offset: 1, Limit: 2}, []string{"k2", "e1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refs(t, ix, tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}

	t.Run("an edited item is re-indexed, a new one added", func(t *testing.T) {
		edited := item("yonhap", "k2", "경제 소식", "<p>반도체 수출이 늘었다.</p>", day0.Add(48*time.Hour))
		save(t, db, "yonhap", edited, item("yonhap", "k3", "반도체", "", day0))
		if n, err := ix.Sync(context.Background(), db); err != nil || n != 2 {
			t.Fatalf("Sync = %d, %v; want the 2 written since", n, err)
		}
		if got := refs(t, ix, Query{Text: "반도체", Newest: true}); !slices.Equal(got, []string{"k2", "k3"}) {
			t.Errorf("반도체 = %v", got)
		}
		if c, _ := ix.Count(); c != 5 {
			t.Errorf("Count = %d, want 5 (an edit replaces)", c)
		}
	})

	t.Run("an item no channel publishes, or pruned, leaves the index", func(t *testing.T) {
		db.hidden["k3"] = true
		if _, _, _, err := db.TouchSeqs(context.Background(), []uint64{mustItem(t, db, "yonhap", "k3").Seq}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Prune(context.Background(), "38north", feed.Retention{Items: 1}, day0.AddDate(0, 0, 10)); err != nil { // e1 goes
			t.Fatal(err)
		}
		if n, err := ix.Sync(context.Background(), db); err != nil || n != 2 {
			t.Fatalf("Sync = %d, %v; want the hidden and the pruned item", n, err)
		}
		if got := refs(t, ix, Query{Text: "반도체"}); !slices.Equal(got, []string{"k2"}) {
			t.Errorf("반도체 = %v, want the published k2 alone", got)
		}
		if got := refs(t, ix, Query{Text: "missile"}); !slices.Equal(got, []string{"e2"}) {
			t.Errorf("missile = %v, want e2 (e1 was pruned)", got)
		}
		if c, _ := ix.Count(); c != 3 {
			t.Errorf("Count = %d, want the 3 a reader can find", c)
		}
	})

	t.Run("a new index catches up from the recorded seq, Rebuild from zero", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "idx2")
		ix2, n, err := Rebuild(context.Background(), dir, db)
		if c, _ := ix2.Count(); err != nil || c != 3 {
			t.Fatalf("Rebuild = %d, %v", n, err)
		}
		defer ix2.Close()
		if n, err := ix2.Sync(context.Background(), db); err != nil || n != 0 {
			t.Errorf("Sync after Rebuild = %d, %v; want nothing to do", n, err)
		}
	})
}

// TestSearchTies: hits of equal score (by relevance, sorted by score
// alone) come in one order, query after query, and pages cut that order
// without repeating or losing a hit.
func TestSearchTies(t *testing.T) {
	db := openStore(t)
	var items []feed.Item
	for i := range 30 {
		items = append(items, item("ties", fmt.Sprintf("t%02d", i), "Tied story", "<p>Same words.</p>", day0.Add(time.Duration(i*7%30)*time.Hour)))
	}
	save(t, db, "ties", items...)
	ix := openIndex(t, filepath.Join(t.TempDir(), "idx"))
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	res, err := ix.Search(context.Background(), Query{Text: "tied", Limit: 30})
	if err != nil || res.Total != 30 || len(res.Hits) != 30 {
		t.Fatalf("Search = %d of %d hits, %v; want 30", len(res.Hits), res.Total, err)
	}
	if first, last := res.Hits[0].Score, res.Hits[29].Score; first != last {
		t.Fatalf("scores %v to %v: the case needs equal scores", first, last)
	}
	all := refs(t, ix, Query{Text: "tied", Limit: 30})
	for range 3 {
		if again := refs(t, ix, Query{Text: "tied", Limit: 30}); !slices.Equal(again, all) {
			t.Fatalf("the same query gave %v, then %v", all, again)
		}
	}
	var paged []string
	for off := 0; off < 30; off += 7 {
		paged = append(paged, refs(t, ix, Query{Text: "tied", Offset: off, Limit: 7})...)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of 7 = %v, want %v", paged, all)
	}
}

func TestSnippet(t *testing.T) {
	for _, tc := range []struct{ text, q, want string }{
		{"합참은 오늘 뉴스를 통해", "뉴스", "합참은 오늘 <mark>뉴스</mark>를 통해"},
		{"A <b> & Missile test", "missile", "A &lt;b&gt; &amp; <mark>Missile</mark> test"},
		{"북한뉴스 보도", "한뉴스", "북<mark>한뉴스</mark> 보도"},
		{"no match here", "zzz", "no match here"},
		{"0123456789 abcdefghij target tail", "target", "…defghij <mark>target</mark> tail"},
	} {
		if got := Snippet(tc.text, tc.q, 24); got != tc.want {
			t.Errorf("Snippet(%q, %q) = %q, want %q", tc.text, tc.q, got, tc.want)
		}
	}
	if got, want := strings.Join(strings.Fields(hangulBigrams("북한뉴스를 a 북 3개월x")), " "), "북한 한뉴 뉴스 스를 a 북 3 개월 x"; got != want {
		t.Errorf("hangulBigrams = %q, want %q", got, want)
	}
	if got, want := Text("<p>a&amp;b</p><p>c\n\n d</p>"), "a&b c d"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func BenchmarkSearch(b *testing.B) {
	db := openStore(b)
	for s := range 5 {
		src := fmt.Sprintf("s%d", s)
		var items []feed.Item
		for i := range 400 {
			items = append(items, item(src, fmt.Sprint(i), fmt.Sprintf("북한 뉴스 %d", i), "<p>한반도 정세와 missile 소식을 전하는 기사 본문입니다.</p>", day0.Add(time.Duration(i)*time.Hour)))
		}
		save(b, db, src, items...)
	}
	ix := openIndex(b, filepath.Join(b.TempDir(), "idx"))
	if _, err := ix.Sync(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ix.Search(context.Background(), Query{Text: "뉴스"}); err != nil {
			b.Fatal(err)
		}
	}
}

func mustItem(t *testing.T, db *published, src, key string) feed.Item {
	t.Helper()
	it, err := db.Item(context.Background(), src, key)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// TestOpenRebuildsAnOldIndex: an index written before items carried their
// channels is removed and filled again from the store.
func TestOpenRebuildsAnOldIndex(t *testing.T) {
	db := openStore(t)
	save(t, db, "yonhap", item("yonhap", "k1", "북한 미사일 발사", "", day0))
	dir := filepath.Join(t.TempDir(), "idx")
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if err := os.Remove(filepath.Join(dir, versionFile)); err != nil { // as the previous version left it
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("an old index opened without a store to rebuild it from")
	}
	ix, err = Open(dir, db)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if c, _ := ix.Count(); c != 0 {
		t.Errorf("the old index was kept: %d items", c)
	}
	if n, err := ix.Sync(context.Background(), db); err != nil || n != 1 {
		t.Errorf("Sync after the rebuild = %d, %v; want every item again", n, err)
	}
}

// TestTwoIndexesOneStore: instances sharing one store each keep their own
// index, and each holds every published item, whatever the other recorded.
// With one bookmark in the store, the second index took the first's for
// its own and indexed nothing.
func TestTwoIndexesOneStore(t *testing.T) {
	db := openStore(t)
	save(t, db, "yonhap",
		item("yonhap", "k1", "북한 미사일 발사", "<p>합참 발표</p>", day0),
		item("yonhap", "k2", "경제 소식", "<p>수출이 늘었다.</p>", day0.Add(time.Hour)),
	)
	a := openIndex(t, filepath.Join(t.TempDir(), "a"))
	if n, err := a.Sync(context.Background(), db); err != nil || n != 2 {
		t.Fatalf("Sync of the first index = %d, %v; want 2", n, err)
	}
	b := openIndex(t, filepath.Join(t.TempDir(), "b"))
	if n, err := b.Sync(context.Background(), db); err != nil || n != 2 {
		t.Errorf("Sync of the second index = %d, %v; want 2 (its own bookmark, not the first's)", n, err)
	}
	save(t, db, "yonhap", item("yonhap", "k3", "미사일 추가 발사", "<p>또 발사</p>", day0.Add(2*time.Hour)))
	for name, ix := range map[string]*Index{"first": a, "second": b} {
		if n, err := ix.Sync(context.Background(), db); err != nil || n != 1 {
			t.Errorf("Sync of the %s index after a new item = %d, %v; want 1", name, n, err)
		}
		if c, _ := ix.Count(); c != 3 {
			t.Errorf("%s index Count = %d, want 3", name, c)
		}
		if rev, ok, err := ix.Indexed(); err != nil || !ok {
			t.Errorf("%s index bookmark: %d, %v, %v", name, rev, ok, err)
		}
	}
}
