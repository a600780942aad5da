package store

import (
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// MaxIndexName is the longest membership index name.
const MaxIndexName = 255

// Member is one story of a membership index.
type Member struct {
	SourceID, Key string    // the story
	Seq           uint64    // its first-stored position
	Sort          time.Time // its sort time ([feed.Item.Sort])
	// Pin is the position of the pin it is shown under, from 0; -1 when
	// it is not pinned (a negative Pin is stored as -1).
	Pin int
	// Until is when age takes it out of the index's channel; zero for
	// never. The store keeps it; readers compare it with their clock.
	Until time.Time
}

// IndexState is what an index records about itself.
type IndexState struct {
	// Rev is the store's write (feed.Item.Rev) up to which the index
	// reflects the items: updates only raise it.
	Rev uint64
	// Complete is set once the index was built; until then it is not
	// an answer. Updates never clear it.
	Complete bool
	Count    int
	// LastSeq is the greatest Seq among the members ever added; Pages
	// the number of archive pages.
	LastSeq uint64
	Pages   int
	// Created is when the index was first written, Changed when a member
	// last entered or left it (or changed its pin or age); it never goes
	// back.
	Created time.Time
	Changed time.Time
	// Label is the caller's note of what the index is for (the channels
	// it answers); the store does not read it.
	Label string
}

// IndexUpdate is one change to an index, written in one transaction.
type IndexUpdate struct {
	// Put adds members, or replaces those with the same Seq.
	Put []Member
	// Delete removes the members with these Seqs; unknown ones are
	// ignored.
	Delete []uint64
	// Windows replaces the members a limited source holds, by source id;
	// an empty list removes the source's entry.
	Windows map[string][]uint64
	// PageSize opens a new archive page when a member arrives after every
	// other while the last page holds PageSize members; 0 keeps no pages.
	PageSize int
	// Rev raises IndexState.Rev; Complete sets IndexState.Complete.
	Rev      uint64
	Complete bool
	// Guard makes the update conditional on the index's Rev: it is
	// applied only when the index's Rev is From (0 for a missing index)
	// as the transaction runs, and is otherwise skipped whole, nothing of
	// it written, the state returned for it being the index's as stored
	// (the zero state for a missing one). Followers of the write order on
	// several instances sharing a store set it to the Rev they computed
	// the update from, so that an update computed from an older reading
	// never lands after a newer one.
	Guard bool
	From  uint64
	// Label, when set, replaces IndexState.Label.
	Label string
	// Now is the time of the change, recorded as Created (the first
	// time) and as Changed (of the index and of the member's page) when a
	// member enters, leaves or changes.
	Now time.Time
	// Touch gives a new Rev to every story that enters or leaves the
	// index, so that a follower of the write order (the search index)
	// sees its channels change.
	Touch bool
}

// PageInfo is one archive page of an index.
type PageInfo struct {
	Number int
	First  uint64 // the first Seq it covers (0 for page 1: every Seq before the second page)
	Next   uint64 // the first Seq of the next page; 0 for the last (open) page
	Count  int
	// Changed is when a member of the page last entered, left or changed.
	Changed time.Time
}

// ErrNoIndex is wrapped by index reads for an index that does not exist;
// its code is feed.ENOTFOUND.
var ErrNoIndex = feed.Errorf(feed.ENOTFOUND, "no such membership index")
