// Package story decides what each item of a poll is to a store that already
// holds stories: a story of its own (new), an edit of a stored one
// (update), another source's copy of a stored story (merge), the source's
// own item under a new key (rekey), or nothing to write (skip). It owns the
// rules that recognise one story however it arrives: canonical links,
// folded titles within a window, aliases of keys, tombstones of pruned
// keys, and which item keeps an upstream id that two items carry. It also
// says what deleting a story unrecords (Forget) and which items a prune
// deletes (Retain).
//
// It is pure: it reads what it needs through Lookup and returns a
// Decision; a store backend executes the decision in the write transaction
// of the poll and encodes the records. It must not write, know a backend's
// layout, import one, or keep state from one poll to the next.
//
// # The records
//
// The rules read and decide six kinds of record, which every backend keeps:
//
//   - items, by source and key: the stories (feed.Item), each with the
//     other sources' copies of it as Origins;
//   - aliases, by source and key: a key that names another stored story
//     (a copy merged into another source's story, rule "link" or "title";
//     or the source's own item under a new key, rule "rekey");
//   - the link index, by canonical link key ([feed.LinkKey]): the first
//     story each link was seen with;
//   - the title index: (folded title, sort time, story) entries, searched
//     by folded title over a window of sort times;
//   - tombstones, by source and key: the keys a prune deleted;
//   - id claims, by upstream id: the item that carried the id first.
//
// Index entries may outlive their story (a prune leaves copies' title
// entries, say): the rules treat an entry whose story is gone as absent.
package story

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Rules recorded on origins and aliases.
const (
	RuleLink  = "link"  // same canonical link as the story
	RuleTitle = "title" // same folded title within the title window
	RuleRekey = "rekey" // the same source's item under a new key (same link and title)
)

const (
	// MaxLinkKey bounds the canonical links that are indexed; longer ones
	// are not links anyone shares.
	MaxLinkKey = 4096
	// MaxTitleScan bounds the title index entries one new item looks at:
	// a title given to more items than that within the window ("속보", a
	// feed's fixed headline) names no one story, and a hostile feed must
	// not make every poll slower than the last.
	MaxTitleScan = 64
	// MaxClaimedID is the longest upstream id that is claimed; a longer
	// one claims nothing and is never marked shared.
	MaxClaimedID = 32 << 10
)

// Ref names a stored item: its source and key.
type Ref struct{ SourceID, Key string }

// Alias is a source's item key that names another stored item: a copy of
// a story another source delivered first (rule "link" or "title"), or the
// source's own item under a new key (rule "rekey").
type Alias struct {
	SourceID, Key string // the story it names
	Rule          string
	Seen          time.Time
}

// TitleEntry is one entry of the title index: a story filed under a folded
// title at a sort time.
type TitleEntry struct {
	Story Ref
	// Sort is the time the entry is filed at, as the index holds it.
	Sort time.Time
}

// Lookup is what the rules read from the store, inside the transaction
// that executes their decisions. ok is false when there is no such record;
// err is for a failing or damaged store only.
type Lookup interface {
	// Item returns the stored item src/key.
	Item(src, key string) (it feed.Item, ok bool, err error)
	// Alias returns the alias recorded for src's key.
	Alias(src, key string) (a Alias, ok bool, err error)
	// Tombstone reports whether src's key was pruned.
	Tombstone(src, key string) (bool, error)
	// LinkOwner returns the story the link index records for a canonical
	// link key; it may be gone.
	LinkOwner(linkKey string) (r Ref, ok bool, err error)
	// Titles returns the first limit entries of the title index filed
	// under folded whose times are from oldest to newest inclusive, in
	// index order: newest first, entries at one time ordered by
	// [CompareRefs]. Their stories may be gone.
	Titles(folded string, newest, oldest time.Time, limit int) ([]TitleEntry, error)
	// IDOwner returns the item that claimed upstream id; it may be gone,
	// or carry another id now.
	IDOwner(id string) (r Ref, ok bool, err error)
}

// CompareRefs is the order of title index entries filed at one time:
// bytewise by [Ref.Bytes].
func CompareRefs(a, b Ref) int { return bytes.Compare(a.Bytes(), b.Bytes()) }

// Bytes is r as uvarint(len(source id)), the source id, then the key: the
// form the indexes file refs under, so that one source's refs share a
// prefix that is the prefix of no other source's.
func (r Ref) Bytes() []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(r.SourceID)+len(r.Key)), uint64(len(r.SourceID)))
	b = append(b, r.SourceID...)
	return append(b, r.Key...)
}

// ParseRef decodes a ref written by [Ref.Bytes].
func ParseRef(b []byte) (Ref, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return Ref{}, false
	}
	return Ref{SourceID: string(b[w : w+int(n)]), Key: string(b[w+int(n):])}, true
}

// JSON (RFC 3339) holds only years 0 to 9999; a feed's absurd date is
// clamped into that range rather than failing the whole poll.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// Time is t as every store keeps it: without its monotonic reading, and
// clamped to the years 1 to 9999 (what RFC 3339 can write), to the
// nanosecond. The zero time stays zero. The rules compare stored items
// with incoming ones after Time, so a backend must store exactly this.
func Time(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return time.Time{}
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t.Round(0)
}

// Storable returns it with its times made storable by Time, so that what a
// poll returns, stores and indexes agree.
func Storable(it feed.Item) feed.Item {
	it.Published = Time(it.Published)
	it.Updated = Time(it.Updated)
	it.FirstSeen = Time(it.FirstSeen)
	return it
}
