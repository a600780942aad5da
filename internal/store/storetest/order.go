package storetest

import (
	"slices"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// testIndexTies checks the newest-first order where sort keys tie: members
// of one pin rank, and members of one sort time (a poll's undated items,
// all dated when first seen), go by Seq lowest first, which is the order
// their feed listed them in. Both backends must agree, or a page would
// show other items on each.
func testIndexTies(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	its := poll("a", 6)
	for i := range its {
		its[i].Published, its[i].Updated = its[0].Published, its[0].Updated
	}
	save(t, s, "a", its)
	got := stored(t, s, "a")
	if len(got) != 6 {
		t.Fatalf("stored %d items, want 6", len(got))
	}
	slices.SortFunc(got, func(x, y feed.Item) int { return int(x.Seq) - int(y.Seq) })
	if k := keysOf(got); !slices.Equal(k, keysOf(its)) {
		t.Errorf("keys by Seq = %v, want the poll's order %v", k, keysOf(its))
	}
	ms := members(got)
	// The third and the last share pin rank 0; the fifth has rank 1.
	ms[2].Pin, ms[5].Pin, ms[4].Pin = 0, 0, 1
	// Put in an order that is neither Seq's nor its reverse.
	put := []store.Member{ms[3], ms[5], ms[0], ms[4], ms[2], ms[1]}
	if _, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ties": {Put: put, PageSize: 10, Rev: 1, Complete: true, Now: epoch}}); err != nil {
		t.Fatal(err)
	}
	want := []uint64{ms[2].Seq, ms[5].Seq, ms[4].Seq, ms[0].Seq, ms[1].Seq, ms[3].Seq}
	seqs := func(mem []store.Member) []uint64 {
		out := make([]uint64, len(mem))
		for i, m := range mem {
			out[i] = m.Seq
		}
		return out
	}
	mem, _, err := s.Newest(bg, "ties", nil, 0, 10, false)
	if err != nil || !slices.Equal(seqs(mem), want) {
		t.Errorf("Newest = %v, %v; want %v (pins by rank, ties by Seq lowest first)", seqs(mem), err, want)
	}
	// Walking on from each member, and backwards from the end, gives the
	// same order: the tie order is the index's, not one read's.
	for i := 0; i+1 < len(want) && err == nil; i++ {
		var next []store.Member
		next, _, err = s.Newest(bg, "ties", &mem[i], 0, 1, false)
		if err != nil || len(next) != 1 || next[0].Seq != want[i+1] {
			t.Errorf("Newest after Seq %d = %v, %v; want Seq %d", want[i], seqs(next), err, want[i+1])
		}
	}
	back, _, err := s.Newest(bg, "ties", nil, 0, 10, true)
	slices.Reverse(want)
	if err != nil || !slices.Equal(seqs(back), want) {
		t.Errorf("Newest reversed = %v, %v; want %v", seqs(back), err, want)
	}
}
