package bolt

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// guidItem returns an item as the parser delivers it: keyed by GUID when it
// has one (policy auto), else by canonical link, with a canonical link.
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

// savePolicy stores one poll of src keyed under policy.
func savePolicy(t *testing.T, db *DB, src, policy string, items ...feed.Item) feed.PollCounts {
	t.Helper()
	st := state(src)
	st.Identity = policy
	c, err := db.SavePoll(ctx, src, items, st)
	if err != nil {
		t.Fatalf("SavePoll(%s): %v", src, err)
	}
	return c
}

func mustItems(t *testing.T, db *DB, limit int, sources ...string) []feed.Item {
	t.Helper()
	items, err := itemsOf(db, sources, limit)
	if err != nil {
		t.Fatalf("Items(%v): %v", sources, err)
	}
	return items
}

func sourceCountOf(t *testing.T, db *DB, src string) int {
	t.Helper()
	n, err := db.SourceItemCount(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// kst is Korea Standard Time, in which the feeds below date their items.
var kst = time.FixedZone("KST", 9*3600)

func TestGUIDSchemeChange(t *testing.T) {
	pub := time.Date(2025, 3, 1, 8, 0, 0, 0, kst)
	// The CMS upgrade: GUIDs go from numeric to tag URIs, the site moves
	// to https, and the feed adds tracking parameters to its links.
	before := guidItem("1187", "http://www.nocutnews.co.kr/news/6301187", "국방부, 북한 탄도미사일 발사 규탄 성명", pub)
	after := guidItem("tag:nocutnews.co.kr,2025:news/6301187", "https://www.nocutnews.co.kr/news/6301187?utm_source=rss&utm_medium=feed", "국방부, 북한 탄도미사일 발사 규탄 성명", pub)
	other := guidItem("1188", "http://www.nocutnews.co.kr/news/6301188", "통일부 장관 국회 답변", pub.Add(time.Hour))
	otherAfter := guidItem("tag:nocutnews.co.kr,2025:news/6301188", "https://www.nocutnews.co.kr/news/6301188", "통일부 장관 국회 답변", pub.Add(time.Hour))

	t.Run("the same items, not new ones", func(t *testing.T) {
		clk := newClock()
		db := openTest(t, Options{Now: clk.Now, TitleWindow: 48 * time.Hour})
		firstSeen := clk.Now()
		mustSave(t, db, "nocut", before, other)
		clk.Advance(time.Hour)
		// The link went from http to https: the one visible change.
		if got, want := mustSave(t, db, "nocut", after, otherAfter), (feed.PollCounts{Updated: 2}); got != want {
			t.Errorf("counts after the GUID change = %+v, want %+v", got, want)
		}
		if got, want := mustSave(t, db, "nocut", after, otherAfter), (feed.PollCounts{Unchanged: 2}); got != want {
			t.Errorf("counts of the next poll = %+v, want %+v", got, want)
		}
		items := mustItems(t, db, 10, "nocut")
		if got, want := keys(items), []string{"id:1188", "id:1187"}; !slices.Equal(got, want) {
			t.Fatalf("keys = %q, want %q (kept under their first keys)", got, want)
		}
		it := items[1]
		if it.ID != "1187" || it.Link != "https://www.nocutnews.co.kr/news/6301187" {
			t.Errorf("id %q link %q: want the first id kept (readers know it) and the new https link", it.ID, it.Link)
		}
		if !it.FirstSeen.Equal(firstSeen) || !it.Published.Equal(pub) {
			t.Errorf("first seen %v published %v, want %v and %v kept", it.FirstSeen, it.Published, firstSeen, pub)
		}
		if n := sourceCountOf(t, db, "nocut"); n != 2 {
			t.Errorf("SourceItemCount = %d, want 2", n)
		}
		found := mustLocate(t, db, "nocut/"+after.Key)
		if len(found) != 1 || found[0].Story.Key != "id:1187" || found[0].Alias == nil || found[0].Alias.Rule != story.RuleRekey {
			t.Errorf("Locate(new key) = %+v, want the story through a rekey alias", found)
		}
	})

	t.Run("an old GUID still in the feed is another item", func(t *testing.T) {
		db := openTest(t, Options{Now: newClock().Now})
		mustSave(t, db, "nocut", before)
		// A correction published with its own GUID but the same link.
		fix := guidItem("1187-fix", "http://www.nocutnews.co.kr/news/6301187", "국방부, 북한 탄도미사일 발사 규탄 성명", pub.Add(time.Hour))
		if got, want := mustSave(t, db, "nocut", before, fix), (feed.PollCounts{New: 1, Unchanged: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})

	t.Run("a feed that links every item to its home page", func(t *testing.T) {
		db := openTest(t, Options{Now: newClock().Now})
		home := "https://www.unikorea.go.kr/"
		mustSave(t, db, "mou", guidItem("notice-1", home, "2025년 남북협력기금 집행 계획 공고", pub))
		// One item per poll, a new GUID, the same link, another title.
		if got, want := mustSave(t, db, "mou", guidItem("notice-2", home, "북한이탈주민 정착지원 사업 공고", pub.Add(24*time.Hour))), (feed.PollCounts{New: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})

	t.Run("the guid policy never matches by link", func(t *testing.T) {
		db := openTest(t, Options{Now: newClock().Now})
		savePolicy(t, db, "nocut", feed.IdentityGUID, before)
		if got, want := savePolicy(t, db, "nocut", feed.IdentityGUID, after), (feed.PollCounts{New: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})
}

func TestRepeatedGUIDPollKeyedByLink(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	pub := time.Date(2025, 3, 1, 8, 0, 0, 0, kst)
	a := guidItem("https://www.tongilnews.com/news/articleView.html?idxno=204226", "https://www.tongilnews.com/news/articleView.html?idxno=204226", "남북 정상 핫라인 복원", pub)
	b := guidItem("https://www.tongilnews.com/news/articleView.html?idxno=204227", "https://www.tongilnews.com/news/articleView.html?idxno=204227", "개성공단 재가동 논의", pub.Add(time.Hour))
	mustSave(t, db, "tongil", a, b)

	// The next poll repeated one GUID, so the parser keyed it by link.
	byLink := func(it feed.Item) feed.Item {
		it.ID = "https://www.tongilnews.com/"
		it.Key = feed.IdentityFor(feed.IdentityLink, it.ID, it.Link, it.Title, it.Summary)
		return it
	}
	st := state("tongil")
	st.Warning = `the feed gives 2 different items the guid "https://www.tongilnews.com/"`
	c, err := db.SavePoll(ctx, "tongil", []feed.Item{byLink(a), byLink(b)}, st)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c, (feed.PollCounts{Unchanged: 2}); got != want {
		t.Errorf("counts of the link-keyed poll = %+v, want %+v", got, want)
	}
	// Fixed again: the GUID keys are still the items' keys.
	if got, want := mustSave(t, db, "tongil", a, b), (feed.PollCounts{Unchanged: 2}); got != want {
		t.Errorf("counts once fixed = %+v, want %+v", got, want)
	}
	if n, _ := db.Count(ctx); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	if s, err := db.State(ctx, "tongil"); err != nil || s.Warning != "" {
		t.Errorf("state warning = %q, %v; want cleared by the last poll", s.Warning, err)
	}
}

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

func TestTitleRuleLimits(t *testing.T) {
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	agency, _, viaTitle := yonhap(pub)
	tests := []struct {
		name   string
		window time.Duration
		copy   func(feed.Item) feed.Item
		merged bool
	}{
		{"within the window", 48 * time.Hour, func(it feed.Item) feed.Item { return it }, true},
		{"a day later, still within", 48 * time.Hour, func(it feed.Item) feed.Item { it.Published = pub.Add(47 * time.Hour); return it }, true},
		{"a day earlier, still within", 48 * time.Hour, func(it feed.Item) feed.Item { it.Published = pub.Add(-30 * time.Hour); return it }, true},
		{"outside the window", 48 * time.Hour, func(it feed.Item) feed.Item { it.Published = pub.Add(49 * time.Hour); return it }, false},
		{"title rule off", 0, func(it feed.Item) feed.Item { return it }, false},
		{"a different story", 48 * time.Hour, func(it feed.Item) feed.Item { it.Title = "北, 서해상으로 순항미사일 발사"; return it }, false},
		{"a title too short to tell", 48 * time.Hour, func(it feed.Item) feed.Item { it.Title = "[포토] 오늘의 사진"; return it }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t, Options{Now: newClock().Now, TitleWindow: tt.window})
			first := agency
			if tt.name == "a title too short to tell" {
				first.Title = "[포토] 오늘의 사진"
			}
			mustSave(t, db, "yonhap", first)
			c := mustSave(t, db, "kmib", tt.copy(viaTitle))
			if got := c.Merged == 1; got != tt.merged {
				t.Errorf("counts = %+v, want merged=%v", c, tt.merged)
			}
		})
	}

	t.Run("never within one source", func(t *testing.T) {
		db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
		again := guidItem("AKR20250301000200504", "https://www.yna.co.kr/view/AKR20250301000200504", agency.Title, pub.Add(time.Hour))
		if got, want := mustSave(t, db, "yonhap", agency, again), (feed.PollCounts{New: 2}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})
	t.Run("a source that already carried the story keeps a second item", func(t *testing.T) {
		db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
		mustSave(t, db, "yonhap", agency)
		mustSave(t, db, "kmib", viaTitle)
		follow := guidItem("", "https://news.kmib.co.kr/article/view.asp?arcid=0020912399", viaTitle.Title, pub.Add(5*time.Hour))
		if got, want := mustSave(t, db, "kmib", viaTitle, follow), (feed.PollCounts{New: 1, Unchanged: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
	})
}

func TestItemsLimitCountsStories(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	var a, b []feed.Item
	for i := range 10 {
		pub := day(0).Add(time.Duration(i) * time.Hour)
		link := "https://www.yna.co.kr/view/AKR" + string(rune('A'+i))
		a = append(a, guidItem("a"+link, link, "", pub))
		if i%2 == 0 { // b carries every other story of a
			b = append(b, guidItem("b"+link, link+"?utm_source=b", "", pub))
		}
	}
	mustSave(t, db, "a", a...)
	if got, want := mustSave(t, db, "b", b...), (feed.PollCounts{Merged: 5}); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	items := mustItems(t, db, 6, "a", "b")
	if len(items) != 6 {
		t.Fatalf("got %d items, want 6 distinct stories", len(items))
	}
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.Key] || it.SourceID != "a" {
			t.Errorf("item %s/%s repeated or misattributed", it.SourceID, it.Key)
		}
		seen[it.Key] = true
	}
	if !slices.IsSortedFunc(items, func(x, y feed.Item) int { return y.Sort().Compare(x.Sort()) }) {
		t.Error("not newest first")
	}
}

func TestMigrateSchema1(t *testing.T) {
	// A schema 1 file as the previous release wrote it: an item of kei
	// with a tracking link, no origins, no indexes.
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	it := guidItem("kei-1", "https://keia.org/the-peninsula/alliance/?utm_source=rss&utm_medium=rss", "The U.S.-ROK Alliance at 72", day(3))
	it.Link = "https://keia.org/the-peninsula/alliance/?utm_source=rss&utm_medium=rss"
	it.FirstSeen = day(3)
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketAliases, bucketLinks, bucketTitles} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		ib, err := tx.Bucket(bucketItems).CreateBucket([]byte("kei"))
		if err != nil {
			return err
		}
		tb, err := tx.Bucket(bucketByTime).CreateBucket([]byte("kei"))
		if err != nil {
			return err
		}
		if err := putItem(ib, tb, it, nil, record.Prepared{}); err != nil {
			return err
		}
		if err := ib.SetSequence(1); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openTestAt(t, path, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	got := mustItem(t, db, "kei", it.Key)
	if want := "https://keia.org/the-peninsula/alliance/"; got.Link != want {
		t.Errorf("link = %q, want it made canonical: %q", got.Link, want)
	}
	// The next poll delivers the canonical link: nothing changed.
	poll := guidItem("kei-1", "https://keia.org/the-peninsula/alliance/", it.Title, day(3))
	if c := mustSave(t, db, "kei", poll); c != (feed.PollCounts{Unchanged: 1}) {
		t.Errorf("first poll after migration = %+v, want unchanged", c)
	}
	// The index knows the old item: another source's copy merges.
	copy := guidItem("", "http://keia.org/the-peninsula/alliance", "The U.S.–ROK alliance at 72", day(3))
	if c := mustSave(t, db, "kei-mirror", copy); c != (feed.PollCounts{Merged: 1}) {
		t.Errorf("a copy after migration = %+v, want merged", c)
	}
	var schema string
	db.bolt.View(func(tx *bbolt.Tx) error { schema = string(tx.Bucket(bucketMeta).Get(keySchema)); return nil })
	if schema != "2" {
		t.Errorf("schema = %q, want 2", schema)
	}
}

func mustLocate(t *testing.T, db *DB, q string) []store.Found {
	t.Helper()
	found, err := db.Locate(ctx, q)
	if err != nil {
		t.Fatalf("Locate(%q): %v", q, err)
	}
	return found
}

func TestLocate(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	agency, viaLink, viaTitle := yonhap(pub)
	mustSave(t, db, "yonhap", agency)
	mustSave(t, db, "hani", viaLink)
	mustSave(t, db, "kmib", viaTitle)

	tests := []struct {
		q         string
		match     string
		src, key  string
		aliasRule string // "" for the story's own key
	}{
		{"yonhap/" + agency.Key, "key", "yonhap", agency.Key, ""},
		{"kmib/" + viaTitle.Key, "key", "kmib", viaTitle.Key, story.RuleTitle},
		{"AKR20250301000100504", "id", "yonhap", agency.Key, ""},
		{"hani-1185021", "id", "hani", viaLink.Key, story.RuleLink},
		{"http://www.yna.co.kr/view/AKR20250301000100504/?input=1195m&utm_campaign=x", "link", "yonhap", agency.Key, ""},
		{"https://news.kmib.co.kr/article/view.asp?arcid=0020912345&code=61111111&sid1=pol", "link", "kmib", viaTitle.Key, story.RuleTitle},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			found := mustLocate(t, db, tt.q)
			if len(found) != 1 {
				t.Fatalf("found %d, want 1: %+v", len(found), found)
			}
			f := found[0]
			if f.Match != tt.match || f.SourceID != tt.src || f.Key != tt.key || f.Story.Key != agency.Key || f.Story.SourceID != "yonhap" {
				t.Errorf("found %s %s/%s story %s/%s; want %s %s/%s story yonhap/%s",
					f.Match, f.SourceID, f.Key, f.Story.SourceID, f.Story.Key, tt.match, tt.src, tt.key, agency.Key)
			}
			if (f.Alias == nil) != (tt.aliasRule == "") || f.Alias != nil && f.Alias.Rule != tt.aliasRule {
				t.Errorf("alias %+v, want rule %q", f.Alias, tt.aliasRule)
			}
		})
	}
	for _, q := range []string{"https://www.yna.co.kr/view/other", "nobody/id:x", "urn:nothing"} {
		if _, err := db.Locate(ctx, q); feed.ErrorCode(err) != feed.ENOTFOUND {
			t.Errorf("Locate(%q) = %v, want not found", q, err)
		}
	}
	if _, err := db.Locate(ctx, " "); feed.ErrorCode(err) != feed.EINVALID {
		t.Errorf("Locate(blank) = %v, want invalid", err)
	}
}

func TestForgetStory(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	agency, viaLink, viaTitle := yonhap(pub)
	mustSave(t, db, "yonhap", agency)
	mustSave(t, db, "hani", viaLink)
	mustSave(t, db, "kmib", viaTitle)

	// Prune the story as a retention pass would: the item, its bytime
	// entry, and what the indexes hold about it.
	stored := mustItem(t, db, "yonhap", agency.Key)
	if err := db.update(ctx, func(tx *bbolt.Tx) error {
		if err := forgetStory(tx, stored); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByTime).Bucket([]byte("yonhap")).Delete(indexKey(stored)); err != nil {
			return err
		}
		return tx.Bucket(bucketItems).Bucket([]byte("yonhap")).Delete([]byte(stored.Key))
	}); err != nil {
		t.Fatal(err)
	}
	if got := mustItems(t, db, 10, "yonhap", "hani", "kmib"); len(got) != 0 {
		t.Errorf("after pruning: %d items, want none", len(got))
	}
	for _, src := range []string{"hani", "kmib"} {
		if n := indexLen(t, db, src); n != 0 {
			t.Errorf("%s keeps %d bytime entries", src, n)
		}
	}
	// The copies do not come back as stories of their own.
	if c := mustSave(t, db, "hani", viaLink); c != (feed.PollCounts{Unchanged: 1}) {
		t.Errorf("re-poll of a pruned story's copy = %+v, want unchanged", c)
	}
	// A new story with the pruned link gets the link for itself.
	again := guidItem("AKR-new", agency.Link, "새 기사 제목이 여기에 있습니다", pub.Add(24*time.Hour))
	if c := mustSave(t, db, "yonhap2", again); c != (feed.PollCounts{New: 1}) {
		t.Errorf("counts = %+v, want new", c)
	}
	if c := mustSave(t, db, "mirror", guidItem("m", agency.Link, "x", pub)); c != (feed.PollCounts{Merged: 1}) {
		t.Errorf("a copy of the new story = %+v, want merged", c)
	}
}

func TestSourceListingTwoCopiesOfOneStory(t *testing.T) {
	// A category feed lists the agency's story and a paper's version of
	// it, which the paper's own feed carried as a title match earlier.
	db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	agency, _, viaTitle := yonhap(pub)
	mustSave(t, db, "yonhap", agency)
	mustSave(t, db, "kmib", viaTitle)
	agencyAgain := guidItem("cat-1", agency.Link, agency.Title, pub)
	paperAgain := guidItem("cat-2", viaTitle.Link, viaTitle.Title, viaTitle.Published)
	if got, want := mustSave(t, db, "politics", paperAgain, agencyAgain), (feed.PollCounts{Merged: 2}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	items := mustItems(t, db, 10, "politics")
	if len(items) != 1 || items[0].Key != agency.Key {
		t.Fatalf("politics shows %q, want the one story", keys(items))
	}
	if n := sourceCountOf(t, db, "politics"); n != 2 {
		t.Errorf("SourceItemCount = %d, want the 2 items it delivered", n)
	}
}
