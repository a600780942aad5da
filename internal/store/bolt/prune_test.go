package bolt

import (
	"fmt"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// A busy news feed: every poll carries its newest 30 items, an hour apart.
func newsPoll(src string, newest, n int) []feed.Item {
	var items []feed.Item
	for i := newest; i > newest-n && i >= 0; i-- {
		it := newItem(fmt.Sprintf("id:https://www.yna.co.kr/view/AKR%05d", i), fmt.Sprintf("기사 %d", i), day(0).Add(time.Duration(i)*time.Hour))
		it.SourceID = src
		items = append(items, it)
	}
	return items
}

func TestPruneKeepsNewestAndTombstonesStopReingest(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	mustSave(t, db, "yonhap", newsPoll("yonhap", 29, 30)...)

	res, err := db.Prune(ctx, "yonhap", feed.Retention{Items: 10}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 20 || res.Batches != 1 {
		t.Errorf("Prune=%+v, want 20 items in 1 batch", res)
	}
	if n, _ := db.SourceItemCount(ctx, "yonhap"); n != 10 {
		t.Errorf("items left=%d, want 10", n)
	}
	if got := indexLen(t, db, "yonhap"); got != 10 {
		t.Errorf("index entries=%d, want 10", got)
	}
	if n, _ := db.Tombstones(ctx, "yonhap"); n != 20 {
		t.Errorf("tombstones=%d, want 20", n)
	}
	if st, _ := db.State(ctx, "yonhap"); st.Items != 10 {
		t.Errorf("state.Items=%d, want 10", st.Items)
	}
	items, _ := itemsOf(db, []string{"yonhap"}, 100)
	if got, want := items[len(items)-1].Title, "기사 20"; got != want {
		t.Errorf("oldest kept=%q, want %q", got, want)
	}

	// The feed still carries the pruned items, plus two new ones.
	c := mustSave(t, db, "yonhap", newsPoll("yonhap", 31, 32)...)
	if c.New != 2 || c.Unchanged != 30 {
		t.Errorf("re-poll counts=%+v, want 2 new, 30 unchanged", c)
	}
	if n, _ := db.SourceItemCount(ctx, "yonhap"); n != 12 {
		t.Errorf("items after re-poll=%d, want 12", n)
	}
	if _, err := db.Item(ctx, "yonhap", "id:https://www.yna.co.kr/view/AKR00000"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Errorf("pruned item came back: %v", err)
	}
}

func TestPruneByAgeInBatches(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	mustSave(t, db, "hani", newsPoll("hani", 1199, 1200)...) // 50 days of hourly items
	now := day(50)
	res, err := db.Prune(ctx, "hani", feed.Retention{Days: 10}, now)
	if err != nil {
		t.Fatal(err)
	}
	// Items before day 40 go: 960 of them, in batches of at most 500.
	if res.Items != 960 || res.Batches != 2 {
		t.Errorf("Prune=%+v, want 960 items in 2 batches", res)
	}
	items, _ := itemsOf(db, []string{"hani"}, 1000)
	if len(items) != 240 || items[len(items)-1].Sort().Before(now.AddDate(0, 0, -10)) {
		t.Errorf("kept %d items, oldest %v", len(items), items[len(items)-1].Sort())
	}
	// Nothing more to do: a second prune deletes nothing.
	if res, _ := db.Prune(ctx, "hani", feed.Retention{Days: 10}, now); res.Items != 0 || res.Batches != 0 {
		t.Errorf("second Prune=%+v", res)
	}
	// Both limits: the stricter wins.
	if res, _ := db.Prune(ctx, "hani", feed.Retention{Items: 100, Days: 10}, now); res.Items != 140 {
		t.Errorf("Prune items=100 removed %d, want 140", res.Items)
	}
}

func TestPruneNothingToDo(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	for _, keep := range []feed.Retention{{}, {Items: 5}, {Days: 3}} {
		if res, err := db.Prune(ctx, "never-polled", keep, day(9)); err != nil || res != (store.PruneResult{}) {
			t.Errorf("Prune(%+v)=%+v, %v", keep, res, err)
		}
	}
}

func TestTombstonesCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 10,100 items")
	}
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	mustSave(t, db, "kcna", newsPoll("kcna", store.MaxTombstones+99, store.MaxTombstones+100)...)
	first, err := db.Prune(ctx, "kcna", feed.Retention{Items: 60}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if first.Items != store.MaxTombstones+40 || first.Tombstones != 40 || first.Batches != 21 {
		t.Errorf("first Prune=%+v, want 10,040 items in 21 batches, 40 tombstones dropped", first)
	}
	clk.Advance(time.Hour)
	mustSave(t, db, "kcna", newsPoll("kcna", store.MaxTombstones+139, 40)...)
	res, err := db.Prune(ctx, "kcna", feed.Retention{Items: 60}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 + 40 tombstones, capped at 10,000: 40 of those buried first go,
	// and the ones just buried stay.
	if res.Items != 40 || res.Tombstones != 40 {
		t.Errorf("Prune=%+v, want 40 items and 40 tombstones dropped", res)
	}
	if c := mustSave(t, db, "kcna", newsPoll("kcna", store.MaxTombstones+79, 1)...); c.New != 0 {
		t.Errorf("an item pruned last came back: %+v", c)
	}
	// The very first tombstone was dropped: a feed that still carried that
	// item after 10,000 newer ones would bring it back.
	if c := mustSave(t, db, "kcna", newsPoll("kcna", 0, 1)...); c.New != 1 {
		t.Errorf("item with a dropped tombstone: %+v, want new", c)
	}
	if n, _ := db.Tombstones(ctx, "kcna"); n != store.MaxTombstones {
		t.Errorf("tombstones=%d, want %d", n, store.MaxTombstones)
	}
}

// TestPruneLeavesIndexesConsistent prunes a source whose stories were also
// carried by another source: the write-order index (read by the search
// indexer) names no pruned item, a later copy of a pruned story is a story
// of its own rather than an origin of a missing one, and the merged copies'
// entries in the other source do not skew its item count.
func TestPruneLeavesIndexesConsistent(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now, TitleWindow: 48 * time.Hour})
	mustSave(t, db, "yonhap", newsPoll("yonhap", 9, 10)...)
	// hani carries yonhap's three oldest stories under its own guids.
	var copies []feed.Item
	for _, it := range newsPoll("yonhap", 2, 3) {
		it.SourceID, it.Key = "hani", "id:hani-"+it.Title
		copies = append(copies, it)
	}
	if c := mustSave(t, db, "hani", copies...); c.Merged != 3 {
		t.Fatalf("hani's copies: %+v, want 3 merged", c)
	}

	if _, err := db.Prune(ctx, "yonhap", feed.Retention{Items: 5}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	all, err := db.ItemsSince(ctx, 0, 100)
	if err != nil {
		t.Fatalf("ItemsSince after prune: %v", err)
	}
	live, gone := 0, 0
	for _, it := range all {
		if it.Seq == 0 {
			gone++
			if _, err := db.Item(ctx, it.SourceID, it.Key); feed.ErrorCode(err) != feed.ENOTFOUND {
				t.Errorf("ItemsSince says %s/%s is gone, but Item gives %v", it.SourceID, it.Key, err)
			}
		} else {
			live++
		}
	}
	if live != 5 || gone != 5 {
		t.Errorf("write-order index after prune: %d live items and %d gone, want 5 and 5", live, gone)
	}
	if n, err := db.TrimGone(ctx, all[len(all)-1].Rev); err != nil || n != 5 {
		t.Errorf("TrimGone = %d, %v; want 5", n, err)
	}
	if after, _ := db.ItemsSince(ctx, 0, 100); len(after) != 5 {
		t.Errorf("after TrimGone: %d entries, want the 5 live items", len(after))
	}
	// hani also has two stories of its own, newer than the copies. Pruning
	// hani meets the copies' entries first (they are the oldest): removing
	// them must not count as removing hani's own items.
	own := []feed.Item{
		otherStory(newItem("id:hani-own-1", "한겨레 단독 기사 하나", day(0).Add(20*time.Hour))),
		otherStory(newItem("id:hani-own-2", "한겨레 단독 기사 둘", day(0).Add(21*time.Hour))),
	}
	mustSave(t, db, "hani", append(own, copies...)...)
	if _, err := db.Prune(ctx, "hani", feed.Retention{Items: 1}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, it := range own {
		if _, err := db.Item(ctx, "hani", it.Key); err == nil {
			kept++
		}
	}
	if n, _ := db.SourceItemCount(ctx, "hani"); n != kept+len(copies) {
		t.Errorf("after pruning hani: count %d, want its %d own items kept plus %d merged copies", n, kept, len(copies))
	}
	// A third outlet now carrying a pruned story stores it as new.
	late := newsPoll("yonhap", 0, 1)[0]
	late.SourceID, late.Key = "kmib", "id:kmib-0"
	if c := mustSave(t, db, "kmib", late); c.New != 1 || c.Merged != 0 {
		t.Errorf("copy of a pruned story: %+v, want a new story", c)
	}
}
