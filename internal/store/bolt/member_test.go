package bolt

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// indexed stores n items of src an hour apart and returns them as stored
// (with Seq), oldest first.
func indexed(t *testing.T, db *DB, src string, n int) []feed.Item {
	t.Helper()
	mustSave(t, db, src, manyItems(src, n, day(0))...)
	var out []feed.Item
	for i := range n {
		it, err := db.Item(ctx, src, fmt.Sprintf("id:%s/%06d", src, i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

func member(it feed.Item) store.Member {
	return store.Member{SourceID: it.SourceID, Key: it.Key, Seq: it.Seq, Sort: it.Sort(), Pin: -1}
}

func titles(its []feed.Item) []string {
	var out []string
	for _, it := range its {
		out = append(out, it.Title)
	}
	return out
}

func TestIndex(t *testing.T) {
	db := openTest(t, Options{})
	items := indexed(t, db, "yonhap", 7) // Story 0 (oldest) … Story 6
	at := day(10)
	var put []store.Member
	for _, it := range items {
		put = append(put, member(it))
	}
	put[1].Pin = 0 // Story 1 pinned
	put[5].Until = day(3)
	st, err := updateIndex(db, "ch", store.IndexUpdate{Put: put, PageSize: 3, Rev: 9, Now: at,
		Windows: map[string][]uint64{"yonhap": {items[6].Seq, items[5].Seq}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 7 || st.Pages != 3 || st.Rev != 9 || !st.Changed.Equal(at) || !st.Created.Equal(at) || st.Complete {
		t.Errorf("state = %+v", st)
	}

	t.Run("newest first, pins first", func(t *testing.T) {
		ms, its, err := db.Newest(ctx, "ch", nil, 0, 10, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Story 1 of yonhap", "Story 6 of yonhap", "Story 5 of yonhap", "Story 4 of yonhap", "Story 3 of yonhap", "Story 2 of yonhap", "Story 0 of yonhap"}
		if got := titles(its); !slices.Equal(got, want) {
			t.Errorf("Newest = %q, want %q", got, want)
		}
		if ms[0].Pin != 0 || !ms[0].Sort.Equal(items[1].Sort()) || !ms[2].Until.Equal(day(3)) {
			t.Errorf("members = %+v", ms[:3])
		}
		next, its, _ := db.Newest(ctx, "ch", &ms[2], 0, 2, false)
		if got := titles(its); !slices.Equal(got, want[3:5]) || len(next) != 2 {
			t.Errorf("after the third: %q", got)
		}
		_, its, _ = db.Newest(ctx, "ch", &ms[4], 0, 10, true)
		if got, want := titles(its), []string{"Story 4 of yonhap", "Story 5 of yonhap", "Story 6 of yonhap", "Story 1 of yonhap"}; !slices.Equal(got, want) {
			t.Errorf("before the fifth, reversed: %q, want %q", got, want)
		}
		_, its, _ = db.Newest(ctx, "ch", nil, 5, 10, false)
		if got := titles(its); !slices.Equal(got, want[5:]) {
			t.Errorf("skip 5: %q", got)
		}
		// A cursor at a member that left still pages on.
		gone := ms[3]
		if _, err := updateIndex(db, "ch", store.IndexUpdate{Delete: []uint64{gone.Seq}, Now: at}); err != nil {
			t.Fatal(err)
		}
		_, its, _ = db.Newest(ctx, "ch", &gone, 0, 1, false)
		if got := titles(its); !slices.Equal(got, want[4:5]) {
			t.Errorf("after a member that left: %q", got)
		}
		if _, err := updateIndex(db, "ch", store.IndexUpdate{Put: []store.Member{put[4]}, PageSize: 3, Now: at}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("archive pages keep their bounds", func(t *testing.T) {
		var firsts []uint64
		for n := 1; n <= 3; n++ {
			p, err := db.IndexPage(ctx, "ch", n)
			if err != nil {
				t.Fatal(err)
			}
			firsts = append(firsts, p.First)
			_, its, err := db.BySeq(ctx, "ch", p.First, p.Next, 100)
			if err != nil {
				t.Fatal(err)
			}
			if wantN := min(3, 7-3*(n-1)); len(its) != wantN || p.Count != wantN {
				t.Errorf("page %d: %d items, count %d, want %d", n, len(its), p.Count, wantN)
			}
		}
		if want := []uint64{0, items[3].Seq, items[6].Seq}; !slices.Equal(firsts, want) {
			t.Errorf("page starts %v, want %v", firsts, want)
		}
		if _, err := db.IndexPage(ctx, "ch", 4); feed.ErrorCode(err) != feed.ENOTFOUND {
			t.Errorf("page 4: %v, want not found", err)
		}
		// Story 3 leaves: page 2 shrinks, page 3 stays as it was.
		later := at.Add(time.Hour)
		if _, err := updateIndex(db, "ch", store.IndexUpdate{Delete: []uint64{items[3].Seq}, Now: later}); err != nil {
			t.Fatal(err)
		}
		p2, _ := db.IndexPage(ctx, "ch", 2)
		p3, _ := db.IndexPage(ctx, "ch", 3)
		if p2.Count != 2 || !p2.Changed.Equal(later) || p3.Count != 1 || !p3.Changed.Equal(at) || p2.First != items[3].Seq {
			t.Errorf("after a leave: page 2 %+v, page 3 %+v", p2, p3)
		}
		// A new story after every other fills the open page, then opens
		// page 4.
		more := indexed(t, db, "kbs", 3)
		st, err := updateIndex(db, "ch", store.IndexUpdate{Put: []store.Member{member(more[0]), member(more[1]), member(more[2])}, PageSize: 3, Now: later})
		if err != nil {
			t.Fatal(err)
		}
		p3, _ = db.IndexPage(ctx, "ch", 3)
		p4, _ := db.IndexPage(ctx, "ch", 4)
		if st.Pages != 4 || p3.Count != 3 || p4.First != more[2].Seq || p4.Count != 1 || p4.Next != 0 || p3.Next != more[2].Seq {
			t.Errorf("pages after new stories: %d; page 3 %+v, page 4 %+v", st.Pages, p3, p4)
		}
	})

	t.Run("windows, lookup, member of", func(t *testing.T) {
		w, err := db.Window(ctx, "ch", "yonhap")
		if err != nil || !slices.Equal(w, []uint64{items[6].Seq, items[5].Seq}) {
			t.Errorf("Window = %v, %v", w, err)
		}
		ms, err := db.LookupMembers(ctx, "ch", []uint64{items[3].Seq, items[2].Seq, 9999})
		if err != nil || len(ms) != 1 || ms[0].Seq != items[2].Seq || ms[0].Key != items[2].Key {
			t.Errorf("LookupMembers = %+v, %v", ms, err)
		}
		if _, err := updateIndex(db, "other", store.IndexUpdate{Put: []store.Member{member(items[2])}, Now: at}); err != nil {
			t.Fatal(err)
		}
		of, err := db.MemberOf(ctx, "yonhap", items[2].Key)
		if slices.Sort(of); err != nil || !slices.Equal(of, []string{"ch", "other"}) {
			t.Errorf("MemberOf = %v, %v", of, err)
		}
		if of, _ := db.MemberOf(ctx, "yonhap", items[3].Key); len(of) != 0 {
			t.Errorf("MemberOf a story that left = %v", of)
		}
		names, _ := db.Indexes(ctx)
		if slices.Sort(names); !slices.Equal(names, []string{"ch", "other"}) {
			t.Errorf("Indexes = %v", names)
		}
	})

	t.Run("touch gives entering and leaving stories a new rev", func(t *testing.T) {
		before, _ := db.Item(ctx, "yonhap", items[2].Key)
		if _, err := updateIndex(db, "other", store.IndexUpdate{Delete: []uint64{items[2].Seq}, Touch: true, Now: at}); err != nil {
			t.Fatal(err)
		}
		after, _ := db.Item(ctx, "yonhap", items[2].Key)
		last, _ := db.LastRev(ctx)
		if after.Rev <= before.Rev || after.Rev != last || !feed.SameContent(before, after) {
			t.Errorf("rev %d → %d (last %d)", before.Rev, after.Rev, last)
		}
	})

	t.Run("pruning a story takes it out of every index", func(t *testing.T) {
		if _, err := updateIndex(db, "other", store.IndexUpdate{Put: []store.Member{member(items[0])}, Now: at}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Prune(ctx, "yonhap", feed.Retention{Items: 6}, at); err != nil { // Story 0 goes
			t.Fatal(err)
		}
		if of, _ := db.MemberOf(ctx, "yonhap", items[0].Key); len(of) != 0 {
			t.Errorf("a pruned story is still in %v", of)
		}
		if ms, _ := db.LookupMembers(ctx, "ch", []uint64{items[0].Seq}); len(ms) != 0 {
			t.Errorf("a pruned story is still a member: %+v", ms)
		}
		st, _, _ := db.IndexState(ctx, "ch")
		p1, _ := db.IndexPage(ctx, "ch", 1)
		if st.Count != 8 || p1.Count != 2 {
			t.Errorf("after prune: count %d (want 8), page 1 count %d (want 2)", st.Count, p1.Count)
		}
	})

	t.Run("drop", func(t *testing.T) {
		if err := db.DropIndex(ctx, "ch", false); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.IndexState(ctx, "ch"); ok || err != nil {
			t.Errorf("store.IndexState after drop: %v, %v", ok, err)
		}
		if _, _, err := db.Newest(ctx, "ch", nil, 0, 1, false); !errors.Is(err, store.ErrNoIndex) {
			t.Errorf("Newest after drop: %v", err)
		}
		if of, _ := db.MemberOf(ctx, "yonhap", items[4].Key); len(of) != 0 {
			t.Errorf("memberof left after drop: %v", of)
		}
		if err := db.DropIndex(ctx, "ch", false); err != nil {
			t.Errorf("second drop: %v", err)
		}
	})
}
