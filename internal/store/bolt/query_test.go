package bolt

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestItemsAfterPagesLikeItems(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	// Three outlets; items at the same hour in different sources, and two
	// at the same hour in one source, so ties order by source then key.
	for _, src := range []string{"hani", "khan", "yonhap"} {
		items := manyItems(src, 7, day(0))
		tie := newItem("id:"+src+"/tie", "tie", day(0).Add(3*time.Hour))
		tie.SourceID = src
		mustSave(t, db, src, append(items, tie)...)
	}
	ids := []string{"yonhap", "hani", "khan", "missing"}
	all, err := itemsOf(db, ids, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), 24; got != want {
		t.Fatalf("Items=%d, want %d", got, want)
	}
	for _, size := range []int{1, 2, 5, 24, 30} {
		var got []feed.Item
		var after *feed.Item
		for pages := 0; pages < 100; pages++ {
			page, err := db.ItemsAfter(ctx, ids, after, size)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < size {
				break
			}
			after = &page[len(page)-1]
		}
		if !slices.Equal(keys(got), keys(all)) {
			t.Errorf("pages of %d:\n%v\nwant\n%v", size, keys(got), keys(all))
		}
	}
}

func TestItemsAfterPrunedCursor(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	mustSave(t, db, "kei", manyItems("kei", 5, day(0))...)
	// A cursor item that is not stored (pruned meanwhile) still pages on.
	gone := newItem("id:kei/gone", "gone", day(0).Add(150*time.Minute))
	gone.SourceID = "kei"
	got, err := db.ItemsAfter(ctx, []string{"kei"}, &gone, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"id:kei/000002", "id:kei/000001", "id:kei/000000"}; !slices.Equal(keys(got), want) {
		t.Errorf("after a missing item: %v, want %v", keys(got), want)
	}
}

// TestItemsAfterMergedCopies pages through two sources, one of which
// carries copies of the other's stories: no page fails on a copy's index
// entry, and every story comes back (paging callers drop the one a page
// boundary may repeat).
func TestItemsAfterMergedCopies(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now, TitleWindow: 48 * time.Hour})
	var first, copies []feed.Item
	for i := range 6 {
		it := newItem(fmt.Sprintf("id:a-%d", i), fmt.Sprintf("첫 번째 출처의 기사 번호 %d", i), day(i))
		first = append(first, it)
		c := it
		c.Key = fmt.Sprintf("id:b-%d", i)
		copies = append(copies, c)
	}
	mustSave(t, db, "a", first...)
	if c := mustSave(t, db, "b", copies...); c.Merged != 6 {
		t.Fatalf("copies: %+v, want 6 merged", c)
	}
	got := map[string]bool{}
	var after *feed.Item
	for range 20 {
		page, err := db.ItemsAfter(ctx, []string{"a", "b"}, after, 2)
		if err != nil {
			t.Fatalf("ItemsAfter: %v", err)
		}
		for _, it := range page {
			got[it.SourceID+"/"+it.Key] = true
		}
		if len(page) < 2 {
			break
		}
		after = &page[len(page)-1]
	}
	if len(got) != 6 {
		t.Errorf("paged through %d stories (%v), want the 6 of source a", len(got), got)
	}
}
