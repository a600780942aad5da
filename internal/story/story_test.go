package story

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
)

// mem is an in-memory store of the six records the rules read, executing
// decisions the way a backend must.
type mem struct {
	items   map[Ref]feed.Item
	aliases map[Ref]Alias
	dead    map[Ref]bool
	links   map[string]Ref
	titles  map[string][]TitleEntry // by folded title
	ids     map[string]Ref
	seq     uint64
	rev     uint64
	reads   int // lookups made
}

func newMem() *mem {
	return &mem{items: map[Ref]feed.Item{}, aliases: map[Ref]Alias{}, dead: map[Ref]bool{},
		links: map[string]Ref{}, titles: map[string][]TitleEntry{}, ids: map[string]Ref{}}
}

func (m *mem) Item(src, key string) (feed.Item, bool, error) {
	m.reads++
	it, ok := m.items[Ref{src, key}]
	return it, ok, nil
}

func (m *mem) Alias(src, key string) (Alias, bool, error) {
	m.reads++
	a, ok := m.aliases[Ref{src, key}]
	return a, ok, nil
}

func (m *mem) Tombstone(src, key string) (bool, error) {
	m.reads++
	return m.dead[Ref{src, key}], nil
}

func (m *mem) LinkOwner(lk string) (Ref, bool, error) {
	m.reads++
	r, ok := m.links[lk]
	return r, ok, nil
}

func (m *mem) Titles(folded string, newest, oldest time.Time, limit int) ([]TitleEntry, error) {
	m.reads++
	var out []TitleEntry
	for _, e := range m.titles[folded] {
		if !e.Sort.After(newest) && !e.Sort.Before(oldest) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b TitleEntry) int {
		if c := b.Sort.Compare(a.Sort); c != 0 {
			return c
		}
		return CompareRefs(a.Story, b.Story)
	})
	return out[:min(len(out), limit)], nil
}

func (m *mem) IDOwner(id string) (Ref, bool, error) {
	m.reads++
	r, ok := m.ids[id]
	return r, ok, nil
}

// poll decides and executes every item of a poll of src, returning the
// decisions' kinds.
func (m *mem) poll(t *testing.T, p *Poll) []Kind {
	t.Helper()
	var kinds []Kind
	for _, in := range p.Items {
		d, err := p.Decide(in, m)
		if err != nil {
			t.Fatal(err)
		}
		m.execute(p.Source, d)
		kinds = append(kinds, d.Kind)
	}
	return kinds
}

func (m *mem) execute(src string, d Decision) {
	if d.Alias != nil {
		m.aliases[Ref{src, d.AliasKey}] = *d.Alias
	}
	it := d.Item
	switch d.Kind {
	case Skip:
		return
	case New:
		m.seq++
		it.Seq = m.seq
	}
	m.rev++
	it.Rev = m.rev
	r := Ref{it.SourceID, it.Key}
	m.items[r] = it
	if d.Claim {
		m.ids[it.ID] = r
	}
	if d.Index.Link != "" {
		m.links[d.Index.Link] = r
	}
	if d.Index.Title != "" {
		m.titles[d.Index.Title] = append(m.titles[d.Index.Title], TitleEntry{Story: r, Sort: it.Sort()})
	}
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func item(key, link, title string, pub time.Time) feed.Item {
	return feed.Item{Key: key, ID: strings.TrimPrefix(key, "id:"), Link: link, Title: title,
		Summary: "<p>" + title + "</p>", Published: pub, Updated: pub, Dated: !pub.IsZero()}
}

func newPoll(src string, now time.Time, items ...feed.Item) *Poll {
	return &Poll{Source: src, Items: items, TrustLinks: true, TitleWindow: 48 * time.Hour, Now: now}
}

func TestNewItemDates(t *testing.T) {
	m := newMem()
	dated := item("id:1", "https://example.com/1", "한미 정상회담 개최", t0.Add(-time.Hour))
	dated.Updated = time.Time{}
	undated := item("id:2", "https://example.com/2", "통일부 브리핑", time.Time{})
	now := t0
	if got := m.poll(t, newPoll("a", now, dated, undated)); !slices.Equal(got, []Kind{New, New}) {
		t.Fatalf("kinds = %v, want new, new", got)
	}
	d := m.items[Ref{"a", "id:1"}]
	if !d.FirstSeen.Equal(now) || !d.Published.Equal(t0.Add(-time.Hour)) || !d.Updated.Equal(d.Published) {
		t.Errorf("dated item: first seen %v, published %v, updated %v; want now, its date, its date", d.FirstSeen, d.Published, d.Updated)
	}
	u := m.items[Ref{"a", "id:2"}]
	if !u.Published.Equal(now) || !u.Updated.Equal(now) || u.Dated {
		t.Errorf("undated item: published %v, updated %v, dated %v; want now, now, false", u.Published, u.Updated, u.Dated)
	}
	if d.Seq != 1 || u.Seq != 2 {
		t.Errorf("seqs %d, %d; want 1, 2", d.Seq, u.Seq)
	}
}

func TestUpdateAndSkip(t *testing.T) {
	m := newMem()
	it := item("id:1", "https://example.com/1", "북한 미사일 발사", t0)
	m.poll(t, newPoll("a", t0, it))
	stored := m.items[Ref{"a", "id:1"}]

	t.Run("same content is skipped, even with a new Updated", func(t *testing.T) {
		again := it
		again.Updated = t0.Add(time.Hour)
		if got := m.poll(t, newPoll("a", t0.Add(time.Hour), again)); got[0] != Skip {
			t.Fatalf("kind %v, want skip", got[0])
		}
	})
	t.Run("an edit keeps first seen, published, seq; updated is now when not later", func(t *testing.T) {
		edited := it
		edited.Summary = "<p>정정</p>"
		edited.Published = t0.Add(5 * time.Hour) // a feed that moves its date
		now := t0.Add(2 * time.Hour)
		if got := m.poll(t, newPoll("a", now, edited)); got[0] != Update {
			t.Fatalf("kind %v, want update", got[0])
		}
		got := m.items[Ref{"a", "id:1"}]
		if !got.FirstSeen.Equal(stored.FirstSeen) || !got.Published.Equal(stored.Published) || got.Seq != stored.Seq {
			t.Errorf("kept %v %v %d, want %v %v %d", got.FirstSeen, got.Published, got.Seq, stored.FirstSeen, stored.Published, stored.Seq)
		}
		if !got.Updated.Equal(now) {
			t.Errorf("updated %v, want now %v (the item's Updated is not after the stored one)", got.Updated, now)
		}
		later := edited
		later.Summary = "<p>재정정</p>"
		later.Updated = t0.Add(10 * time.Hour)
		m.poll(t, newPoll("a", t0.Add(3*time.Hour), later))
		if got := m.items[Ref{"a", "id:1"}]; !got.Updated.Equal(t0.Add(10 * time.Hour)) {
			t.Errorf("updated %v, want the item's later date", got.Updated)
		}
	})
	t.Run("a tombstone stops re-ingest", func(t *testing.T) {
		m.dead[Ref{"a", "id:9"}] = true
		if got := m.poll(t, newPoll("a", t0, item("id:9", "https://example.com/9", "삭제된 기사", t0))); got[0] != Skip {
			t.Fatalf("kind %v, want skip", got[0])
		}
		if _, ok := m.items[Ref{"a", "id:9"}]; ok {
			t.Error("pruned key stored again")
		}
	})
	t.Run("a key twice in one poll: the later is compared with the earlier", func(t *testing.T) {
		x := item("id:x", "https://example.com/x", "같은 키", t0)
		y := x
		y.Summary = "<p>두 번째</p>"
		if got := m.poll(t, newPoll("a", t0, x, x, y)); !slices.Equal(got, []Kind{New, Skip, Update}) {
			t.Errorf("kinds %v, want new, skip, update", got)
		}
	})
}

func TestMergeByLink(t *testing.T) {
	m := newMem()
	agency := item("id:AKR1", "https://www.yna.co.kr/view/AKR1?input=1195m", "북한, 동해상으로 탄도미사일 발사", t0)
	m.poll(t, newPoll("yonhap", t0, agency))
	copyItem := item("id:hani-1", "http://www.yna.co.kr/view/AKR1?input=1195m&utm_source=hani", "北 탄도미사일 발사(종합)", t0.Add(time.Hour))
	now := t0.Add(time.Minute)
	p := newPoll("hani", now, copyItem)
	d, err := p.Decide(copyItem, m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != Merge || d.Item.SourceID != "yonhap" || d.Item.Key != "id:AKR1" {
		t.Fatalf("decision %v of %s/%s, want a merge into yonhap/id:AKR1", d.Kind, d.Item.SourceID, d.Item.Key)
	}
	want := feed.Origin{SourceID: "hani", Key: "id:hani-1", Link: copyItem.Link, Rule: RuleLink, Seen: now}
	if len(d.Item.Origins) != 1 || d.Item.Origins[0] != want {
		t.Errorf("origins %+v, want %+v", d.Item.Origins, want)
	}
	if d.Alias == nil || d.AliasKey != "id:hani-1" || *d.Alias != (Alias{"yonhap", "id:AKR1", RuleLink, now}) {
		t.Errorf("alias %q → %+v, want the copy's key naming the story", d.AliasKey, d.Alias)
	}
	if len(d.Stored.Origins) != 0 {
		t.Error("Stored changed: the decision must not touch what it read")
	}
	if d.Index.Link != "" {
		t.Errorf("index link %q: the story already has that link", d.Index.Link)
	}
	m.execute("hani", d)
	if got := m.poll(t, newPoll("hani", now.Add(time.Hour), copyItem)); got[0] != Skip {
		t.Errorf("re-poll of the copy: %v, want skip (the first origin's text stands)", got[0])
	}

	t.Run("links not trusted: no merge", func(t *testing.T) {
		p := newPoll("other", now, item("id:o-1", copyItem.Link, "다른 제목", t0.Add(30*24*time.Hour)))
		p.TrustLinks = false
		if got := m.poll(t, p); got[0] != New {
			t.Errorf("kind %v, want new", got[0])
		}
	})
	t.Run("a link two items of the poll share names no story", func(t *testing.T) {
		a := item("id:p-1", agency.Link, "첫째 기사", t0.Add(40*24*time.Hour))
		b := item("id:p-2", agency.Link, "둘째 기사", t0.Add(41*24*time.Hour))
		if got := m.poll(t, newPoll("portal", now, a, b)); !slices.Equal(got, []Kind{New, New}) {
			t.Errorf("kinds %v, want new, new", got)
		}
	})
}

func TestMergeByTitle(t *testing.T) {
	m := newMem()
	m.poll(t, newPoll("donga", t0, item("id:d-1", "https://www.donga.com/1", "김하성 4경기 연속안타, 첫 월간타율 3할", t0)))
	m.poll(t, newPoll("donga", t0, item("id:d-2", "https://www.donga.com/2", "김하성 4경기 연속안타, 첫 월간타율 3할", t0.Add(30*time.Hour))))

	cases := []struct {
		name  string
		title string
		at    time.Time
		want  Kind
		into  string
	}{
		{"within the window, the nearest story", "김하성 4경기 연속안타, 첫 월간타율 3할", t0.Add(20 * time.Hour), Merge, "id:d-2"},
		{"folded alike (width, quotes, case)", "김하성 4경기 연속안타, 첫 월간타율 3할 ", t0.Add(-time.Hour), Merge, "id:d-1"},
		{"outside the window", "김하성 4경기 연속안타, 첫 월간타율 3할", t0.Add(-49 * time.Hour), New, ""},
		{"another title", "김하성 5경기 연속안타", t0, New, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := item(fmt.Sprintf("id:n-%d", i), fmt.Sprintf("https://newsis.com/%d", i), tc.title, tc.at)
			d, err := newPoll(fmt.Sprintf("newsis-%d", i), t0, it).Decide(it, m)
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tc.want || (tc.want == Merge && (d.Item.Key != tc.into || d.Alias.Rule != RuleTitle)) {
				t.Errorf("decision %v into %q, want %v into %q", d.Kind, d.Item.Key, tc.want, tc.into)
			}
		})
	}
	t.Run("the title rule is for other sources", func(t *testing.T) {
		it := item("id:d-3", "https://www.donga.com/3", "김하성 4경기 연속안타, 첫 월간타율 3할", t0.Add(time.Hour))
		if d, _ := newPoll("donga", t0, it).Decide(it, m); d.Kind != New {
			t.Errorf("decision %v, want new", d.Kind)
		}
	})
	t.Run("a source that carries the story keeps a second item", func(t *testing.T) {
		m := newMem()
		title := "원숭이두창 확진자 2만명 돌파"
		m.poll(t, newPoll("donga", t0, item("id:d-1", "https://www.donga.com/1", title, t0)))
		first := item("id:k-1", "https://kmib.co.kr/1", title, t0)
		if got := m.poll(t, newPoll("kmib", t0, first)); got[0] != Merge {
			t.Fatalf("first copy: %v, want merge", got[0])
		}
		follow := item("id:k-2", "https://kmib.co.kr/2", title, t0.Add(2*time.Hour))
		if d, _ := newPoll("kmib", t0, follow).Decide(follow, m); d.Kind != New {
			t.Errorf("decision %v into %s, want new", d.Kind, d.Item.Key)
		}
	})
	t.Run("window 0 turns the rule off", func(t *testing.T) {
		it := item("id:z", "https://z.example/1", "김하성 4경기 연속안타, 첫 월간타율 3할", t0)
		p := newPoll("z", t0, it)
		p.TitleWindow = 0
		if d, _ := p.Decide(it, m); d.Kind != New {
			t.Errorf("decision %v, want new", d.Kind)
		}
	})
}

func TestTitleScanBounded(t *testing.T) {
	m := newMem()
	// 70 other sources' stories with one title within the window, each
	// nearer than the one before, the nearest 65th to 70th from the
	// newest end: out of reach.
	const title = "[속보] 북한, 동해상으로 탄도미사일 발사"
	folded := canon.Title(title)
	for i := range 70 {
		src := fmt.Sprintf("s%02d", i)
		m.titles[folded] = append(m.titles[folded], TitleEntry{Ref{src, "k"}, t0.Add(time.Duration(70-i) * time.Minute)})
		m.items[Ref{src, "k"}] = feed.Item{SourceID: src, Key: "k", Title: title, Published: t0}
	}
	var asked int
	l := limitSpy{m, &asked}
	it := item("id:x", "https://x.example/1", title, t0)
	d, err := newPoll("x", t0, it).Decide(it, l)
	if err != nil {
		t.Fatal(err)
	}
	if asked != MaxTitleScan {
		t.Errorf("asked for %d title entries, want %d", asked, MaxTitleScan)
	}
	if d.Kind != Merge || d.Item.SourceID != "s63" {
		t.Errorf("decision %v into %s, want a merge into s63, the nearest of the first %d", d.Kind, d.Item.SourceID, MaxTitleScan)
	}
}

type limitSpy struct {
	*mem
	limit *int
}

func (l limitSpy) Titles(folded string, newest, oldest time.Time, limit int) ([]TitleEntry, error) {
	*l.limit = limit
	return l.mem.Titles(folded, newest, oldest, limit)
}

func TestRekey(t *testing.T) {
	m := newMem()
	pub := t0.Add(-24 * time.Hour)
	before := item("id:1187", "http://www.nocutnews.co.kr/news/6301187", "국방부, 북한 탄도미사일 발사 규탄 성명", pub)
	other := item("id:1188", "http://www.nocutnews.co.kr/news/6301188", "통일부 장관 국회 답변", pub)
	m.poll(t, newPoll("nocut", t0, before, other))
	stored := m.items[Ref{"nocut", "id:1187"}]

	after := item("id:tag:2025:6301187", "https://www.nocutnews.co.kr/news/6301187?utm_source=rss", before.Title, pub)
	now := t0.Add(time.Hour)
	d, err := newPoll("nocut", now, after, other).Decide(after, m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Alias == nil || d.AliasKey != after.Key || *d.Alias != (Alias{"nocut", "id:1187", RuleRekey, now}) {
		t.Fatalf("alias %q → %+v, want the new key naming the stored item", d.AliasKey, d.Alias)
	}
	// The link changed (canonical form): an update of the stored item,
	// which keeps its key and upstream id.
	if d.Kind != Update || d.Item.Key != "id:1187" || d.Item.ID != stored.ID || !d.Item.FirstSeen.Equal(stored.FirstSeen) {
		t.Errorf("decision %v of %s id %q, want an update of id:1187 keeping id %q", d.Kind, d.Item.Key, d.Item.ID, stored.ID)
	}
	m.execute("nocut", d)
	if got := m.poll(t, newPoll("nocut", now, after, other)); !slices.Equal(got, []Kind{Skip, Skip}) {
		t.Errorf("the next poll: %v, want skip, skip (found through the alias)", got)
	}

	t.Run("not while the old key is still in the feed", func(t *testing.T) {
		twin := item("id:tag:2025:6301188", other.Link, other.Title, pub)
		if d, _ := newPoll("nocut", now, other, twin).Decide(twin, m); d.Kind == Update || d.Alias != nil {
			t.Errorf("decision %v alias %+v: a second item of the feed was taken for the first", d.Kind, d.Alias)
		}
	})
	t.Run("not with another title", func(t *testing.T) {
		fix := item("id:1188-fix", other.Link, "완전히 다른 제목의 기사", pub)
		if d, _ := newPoll("nocut", now, fix).Decide(fix, m); d.Alias != nil {
			t.Errorf("alias %+v for an item with another title", d.Alias)
		}
	})
	t.Run("a copy merged before, under a new key, stays that copy", func(t *testing.T) {
		m.poll(t, newPoll("hani", now, item("id:h-1", before.Link, "국방부 규탄 성명", pub)))
		renamed := item("id:h-1-v2", before.Link, "국방부 규탄 성명", pub)
		d, _ := newPoll("hani", now, renamed).Decide(renamed, m)
		if d.Kind != Skip || d.Alias == nil || *d.Alias != (Alias{"nocut", "id:1187", RuleRekey, now}) {
			t.Errorf("decision %v alias %+v, want skip with a rekey alias to the story", d.Kind, d.Alias)
		}
	})
}

func TestIDClaims(t *testing.T) {
	m := newMem()
	home := "https://www.unikorea.go.kr/"
	a := item("link:a", "https://example.com/a", "공지 하나", t0)
	a.ID = home
	b := item("link:b", "https://example.com/b", "공지 둘", t0.Add(time.Hour))
	b.ID = home
	b.IDShared = true // ignored: decided by the store
	m.poll(t, newPoll("mou", t0, a))
	if got := m.items[Ref{"mou", "link:a"}]; got.IDShared || m.ids[home] != (Ref{"mou", "link:a"}) {
		t.Fatalf("first carrier: shared %v, claim %+v; want unshared, claimed", got.IDShared, m.ids[home])
	}
	m.poll(t, newPoll("mou", t0, b))
	if got := m.items[Ref{"mou", "link:b"}]; !got.IDShared {
		t.Error("second carrier not marked IDShared")
	}
	t.Run("an edit keeps the mark", func(t *testing.T) {
		a2 := a
		a2.Summary = "<p>수정</p>"
		m.poll(t, newPoll("mou", t0, a2))
		if m.items[Ref{"mou", "link:a"}].IDShared {
			t.Error("edit changed the mark")
		}
	})
	t.Run("an id whose owner carries another id now is free", func(t *testing.T) {
		c := item("link:c", "https://example.com/c", "셋", t0)
		c.ID = "urn:moved"
		m.ids["urn:moved"] = Ref{"mou", "link:a"} // link:a carries home
		m.poll(t, newPoll("mou", t0, c))
		if m.items[Ref{"mou", "link:c"}].IDShared || m.ids["urn:moved"] != (Ref{"mou", "link:c"}) {
			t.Error("a stale claim kept the id")
		}
	})
	t.Run("an over-long id claims nothing", func(t *testing.T) {
		long := item("link:long", "https://example.com/long", "긴 아이디", t0)
		long.ID = strings.Repeat("x", MaxClaimedID+1)
		d, _ := newPoll("mou", t0, long).Decide(long, m)
		if d.Claim || d.Item.IDShared {
			t.Errorf("claim %v shared %v, want neither", d.Claim, d.Item.IDShared)
		}
	})
}

func TestForget(t *testing.T) {
	st := feed.Item{SourceID: "a", Key: "k", ID: "urn:1", Link: "https://Example.com/x/?utm_source=rss", Title: "북한, 동해상으로 탄도미사일 발사",
		Origins: []feed.Origin{{SourceID: "b", Key: "kb", Link: "http://example.com/y"}, {SourceID: "c", Key: "kc"}}}
	u := Forget(st)
	if want := []string{"example.com/x", "example.com/y"}; !slices.Equal(u.Links, want) {
		t.Errorf("links %q, want %q", u.Links, want)
	}
	if u.Title == "" || u.ID != "urn:1" || !slices.Equal(u.Copies, []Ref{{"b", "kb"}, {"c", "kc"}}) {
		t.Errorf("unrecord %+v", u)
	}
	st.ID = strings.Repeat("x", MaxClaimedID+1)
	if Forget(st).ID != "" {
		t.Error("an id too long to claim has a claim to drop")
	}
}

func TestRetain(t *testing.T) {
	now := t0
	r := Retain(feed.Retention{Items: 10, Days: 30}, 12, now)
	cases := []struct {
		i    int
		at   time.Time
		want bool
	}{
		{0, now, true},                     // beyond the newest 10
		{1, now, true},                     // beyond the newest 10
		{2, now, false},                    // within the 10, and new
		{2, now.AddDate(0, 0, -31), true},  // within the 10, but too old
		{5, now.AddDate(0, 0, -29), false}, // within both
		{50, now.AddDate(-1, 0, 0), true},  // old
		{3, now.AddDate(0, 0, -30), false}, // exactly at the cutoff stays
	}
	for _, tc := range cases {
		if got := r.Deletes(tc.i, tc.at); got != tc.want {
			t.Errorf("Deletes(%d, %v) = %v, want %v", tc.i, tc.at, got, tc.want)
		}
	}
	if !Keeps(feed.Retention{}) || Keeps(feed.Retention{Days: 1}) {
		t.Error("Keeps")
	}
}

func TestTime(t *testing.T) {
	for _, tc := range []struct{ in, want time.Time }{
		{time.Time{}, time.Time{}},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), minTime},
		{time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), maxTime},
		{t0.Add(7), t0.Add(7)},
	} {
		if got := Time(tc.in); !got.Equal(tc.want) {
			t.Errorf("Time(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if now := time.Now(); Time(now) != now.Round(0) {
		t.Error("monotonic reading kept")
	}
}

func TestRefBytes(t *testing.T) {
	for _, r := range []Ref{{"a", "k"}, {strings.Repeat("s", 300), "key:x"}, {"src", ""}} {
		got, ok := ParseRef(r.Bytes())
		if !ok || got != r {
			t.Errorf("ParseRef(Bytes(%q)) = %q, %v", r, got, ok)
		}
	}
	if _, ok := ParseRef([]byte{0x05, 'a'}); ok {
		t.Error("a ref shorter than its length parsed")
	}
	if CompareRefs(Ref{"b", "z"}, Ref{"aa", "a"}) >= 0 {
		t.Error("refs of shorter source ids sort first")
	}
}

// TestWarmDecidesAlike: a poll warmed (Warm on each item as AsNew makes
// it, as a store does before its write transaction) decides every item as
// the same poll unwarmed does, over each rule: a merge by link, one by
// title, a story of its own and an item whose link another of the poll
// shares. A Poll without Items keeps nothing of what it computes.
func TestWarmDecidesAlike(t *testing.T) {
	const title = "김하성 4경기 연속안타, 첫 월간타율 3할"
	incoming := []feed.Item{
		item("id:n-1", "https://www.donga.com/1", "다른 제목의 같은 기사", t0),
		item("id:n-2", "https://newsis.com/2", title, t0.Add(time.Hour)),
		item("id:n-3", "https://newsis.com/3", "원숭이두창 확진자 2만명 돌파", t0),
		item("id:n-4", "https://newsis.com/3", "같은 링크의 다른 기사 제목", t0),
	}
	decide := func(warm bool) []Decision {
		m := newMem()
		m.poll(t, newPoll("donga", t0, item("id:d-1", "https://www.donga.com/1", "동아일보 첫 기사 제목", t0),
			item("id:d-2", "https://www.donga.com/2", title, t0)))
		p := newPoll("newsis", t0, incoming...)
		if warm {
			for _, it := range incoming {
				p.Warm(p.AsNew(it))
			}
		}
		var out []Decision
		for _, it := range incoming {
			d, err := p.Decide(it, m)
			if err != nil {
				t.Fatal(err)
			}
			m.execute(p.Source, d)
			out = append(out, d)
		}
		return out
	}
	cold, warm := decide(false), decide(true)
	var kinds []Kind
	for _, d := range cold {
		kinds = append(kinds, d.Kind)
	}
	if want := []Kind{Merge, Merge, New, New}; !slices.Equal(kinds, want) {
		t.Fatalf("unwarmed decisions %v, want %v", kinds, want)
	}
	if cold[0].Alias.Rule != RuleLink || cold[1].Alias.Rule != RuleTitle || cold[2].Index.Link != "" {
		t.Fatalf("unwarmed: rules %q, %q; the shared link indexed as %q", cold[0].Alias.Rule, cold[1].Alias.Rule, cold[2].Index.Link)
	}
	if !reflect.DeepEqual(cold, warm) {
		t.Errorf("warmed decisions differ:\n got %+v\nwant %+v", warm, cold)
	}

	bare := &Poll{Source: "donga", TrustLinks: true}
	m := newMem()
	for _, it := range incoming {
		if _, err := bare.Entries(it, m); err != nil {
			t.Fatal(err)
		}
	}
	if len(bare.folded) != 0 || len(bare.linkKeys) != 0 {
		t.Errorf("a Poll without Items kept %d titles and %d links", len(bare.folded), len(bare.linkKeys))
	}
}
