package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// maxKeyLen is the contract's longest key: with its 8-byte index prefix it
// is within bbolt's key limit (32KiB), as a source id is.
const maxKeyLen = store.MaxKey

// The contract's limits fit bbolt's keys.
var (
	_ [bbolt.MaxKeySize - 8 - store.MaxKey]struct{}
	_ [bbolt.MaxKeySize - store.MaxSourceID]struct{}
)

// SavePoll stores the items of one successful parse of sourceID and the
// source's new state, in one write transaction: either all of it is stored
// or none. Each item is decided by the story package's rules
// ([story.Poll.Decide]: new, update, merge, rekey or skip), one at a time,
// and the decision executed before the next item is decided.
//
// An item key that occurs twice in items is stored once; the later
// occurrence is compared with the earlier. state.SourceID is set to
// sourceID and state.Items to the number of items the source delivered
// (its own and its merged copies). It returns feed.EINVALID errors for an
// empty source id, an item of another source, or an empty or over-long
// item key.
func (db *DB) SavePoll(ctx context.Context, sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error) {
	if err := store.CheckPoll(sourceID, items, state); err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	var counts feed.PollCounts
	p := &story.Poll{Source: sourceID, Items: items, TrustLinks: feed.LinksIdentify(state.Identity),
		TitleWindow: db.titleWindow, Now: jsonTime(db.now())}
	id := []byte(sourceID)
	pre := db.prepare(ctx, p, id, items)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		db.soon.forget(sourceID) // the poll's state replaces a queued one (soon.go)
		w := poll{tx: tx, src: sourceID}
		var err error
		if w.items, err = tx.Bucket(bucketItems).CreateBucketIfNotExists(id); err != nil {
			return err
		}
		if w.bytime, err = tx.Bucket(bucketByTime).CreateBucketIfNotExists(id); err != nil {
			return err
		}
		if w.aliases, err = tx.Bucket(bucketAliases).CreateBucketIfNotExists(id); err != nil {
			return err
		}
		fill(w.items)
		fill(w.aliases)
		l := newLookup(tx)
		n := w.items.Sequence()
		for i, it := range items {
			d, err := p.Decide(it, l)
			if err != nil {
				return err
			}
			if err := w.execute(d, pre[i]); err != nil {
				return err
			}
			switch d.Kind {
			case story.New:
				n++
				counts.New++
			case story.Update:
				counts.Updated++
			case story.Merge:
				counts.Merged++
			default:
				counts.Unchanged++
			}
		}
		if err := w.items.SetSequence(n); err != nil {
			return err
		}
		state.SourceID, state.Items = sourceID, int(n+w.aliases.Sequence())
		return putState(tx, state)
	})
	if err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	return counts, nil
}

// prepare encodes, before the poll's write transaction, the items whose
// keys the store does not know, as they would be stored new
// (story.Poll.AsNew, record.Prepare): what a poll most often stores new,
// all of a cold ingest. The transaction then only frames their records,
// and holds the file's writer, which every other poll waits for, that much
// less. An item decided otherwise there is encoded there as before.
func (db *DB) prepare(ctx context.Context, p *story.Poll, id []byte, items []feed.Item) []record.Prepared {
	pre := make([]record.Prepared, len(items))
	unknown := make([]bool, len(items))
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		ib, ab := tx.Bucket(bucketItems).Bucket(id), tx.Bucket(bucketAliases).Bucket(id)
		for i, it := range items {
			k := []byte(it.Key)
			unknown[i] = (ib == nil || ib.Get(k) == nil) && (ab == nil || ab.Get(k) == nil)
		}
		return nil
	}); err != nil {
		return pre // the transaction encodes them all
	}
	for i, it := range items {
		if unknown[i] {
			n := p.AsNew(it)
			p.Warm(n)
			pre[i], _ = record.Prepare(n) // on an error, encoded in the transaction
		}
	}
	return pre
}

// poll is one SavePoll transaction: the polled source's buckets.
type poll struct {
	tx                     *bbolt.Tx
	src                    string
	items, bytime, aliases *bbolt.Bucket
}

// execute writes what d decided about one item of the poll, whose record
// may have been prepared.
func (w poll) execute(d story.Decision, pre record.Prepared) error {
	if d.Alias != nil {
		if err := putAlias(w.aliases, d.AliasKey, *d.Alias); err != nil {
			return err
		}
	}
	it := d.Item
	var err error
	switch d.Kind {
	case story.New:
		if it.Seq, err = nextSeq(w.tx, w.src, it.Key); err != nil {
			return err
		}
		if err := claim(w.tx, d); err != nil {
			return err
		}
		if it.Rev, err = nextRev(w.tx, it, 0); err != nil {
			return err
		}
		if err := putItem(w.items, w.bytime, it, nil, pre); err != nil {
			return err
		}
		return index(w.tx, d.Index, it)
	case story.Update:
		if err := claim(w.tx, d); err != nil {
			return err
		}
		if it.Rev, err = nextRev(w.tx, it, d.Stored.Rev); err != nil {
			return err
		}
		return putItem(w.items, w.bytime, it, indexKey(d.Stored), record.Prepared{})
	case story.Merge:
		// A new carrier can put the story in other channels: it is
		// written again in the write order for those who follow it.
		if it.Rev, err = nextRev(w.tx, it, d.Stored.Rev); err != nil {
			return err
		}
		v, err := encodeItem(it)
		if err != nil {
			return fmt.Errorf("item %q: %w", it.Key, err)
		}
		if err := w.tx.Bucket(bucketItems).Bucket([]byte(it.SourceID)).Put([]byte(it.Key), v); err != nil {
			return err
		}
		if err := w.aliases.SetSequence(w.aliases.Sequence() + 1); err != nil {
			return err
		}
		if err := w.bytime.Put(indexKeyAt(it.Sort(), d.AliasKey), nil); err != nil {
			return err
		}
		return index(w.tx, d.Index, it)
	}
	return nil
}

// putItem writes it (its record from pre when prepared from it) and its
// index entry, removing oldIndex first when the item had one under another
// sort time.
func putItem(ib, tb *bbolt.Bucket, it feed.Item, oldIndex []byte, pre record.Prepared) error {
	v, err := pre.Record(it)
	if err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	if err := ib.Put([]byte(it.Key), v); err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	newIndex := indexKey(it)
	if oldIndex != nil && !bytes.Equal(oldIndex, newIndex) {
		if err := tb.Delete(oldIndex); err != nil {
			return fmt.Errorf("item %q: %w", it.Key, err)
		}
	}
	if err := tb.Put(newIndex, nil); err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	return nil
}

// Item returns the stored item of sourceID under key, or a feed.ENOTFOUND
// error.
func (db *DB) Item(ctx context.Context, sourceID, key string) (feed.Item, error) {
	var it feed.Item
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketItems).Bucket([]byte(sourceID)); b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return feed.Errorf(feed.ENOTFOUND, "source %q has no item %q", sourceID, key)
		}
		var err error
		it, err = decodeItem(sourceID, key, v)
		return err
	})
	if err != nil {
		return feed.Item{}, fmt.Errorf("item %s %s: %w", sourceID, key, err)
	}
	return it, nil
}

// storyAt returns the story a bytime entry of sc's source names: the
// source's own item, or, for a merged copy, the story its alias names. It
// reports false for an alias whose story is gone (index entries of a
// pruned story are not an error to a reader).
func storyAt(items, aliases *bbolt.Bucket, sc *sourceCursor, key []byte) (feed.Item, bool, error) {
	if v := sc.items.Get(key); v != nil {
		it, err := decodeItem(sc.id, string(key), v)
		if err != nil {
			return feed.Item{}, false, fmt.Errorf("source %q item %s: %w", sc.id, clip(key), err)
		}
		return it, true, nil
	}
	var av []byte
	if ab := aliases.Bucket([]byte(sc.id)); ab != nil {
		av = ab.Get(key)
	}
	if av == nil {
		return feed.Item{}, false, fmt.Errorf("source %q: index names missing item %s", sc.id, clip(key))
	}
	a, err := decodeAlias(key, av)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("source %q %w", sc.id, err)
	}
	var v []byte
	if b := items.Bucket([]byte(a.SourceID)); b != nil {
		v = b.Get([]byte(a.Key))
	}
	if v == nil {
		return feed.Item{}, false, nil
	}
	it, err := decodeItem(a.SourceID, a.Key, v)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("source %q item %s: %w", a.SourceID, clip([]byte(a.Key)), err)
	}
	return it, true, nil
}

// validIndexKey reports whether k can be a bytime key: a sort stamp and a
// key of a length SavePoll accepts. A damaged page can yield any length.
func validIndexKey(k []byte) bool { return len(k) > 8 && len(k) <= 8+maxKeyLen }

// clip quotes a key read from the file for an error message, cut short: a
// damaged page can make a key gigabytes long.
func clip(b []byte) string {
	const n = 80
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q… (%d bytes)", b[:n], len(b))
}

// sourceCursor is one source's position in its bytime index during Items.
// key is only valid inside the transaction.
type sourceCursor struct {
	id     string
	items  *bbolt.Bucket
	cursor *bbolt.Cursor
	key    []byte
}

// cursorHeap orders cursors by their current index key: sort stamp (newest
// first, as stamps are inverted), then source id, then item key.
type cursorHeap []*sourceCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	sa, sb := binary.BigEndian.Uint64(a.key), binary.BigEndian.Uint64(b.key)
	if sa != sb {
		return sa < sb
	}
	if a.id != b.id {
		return a.id < b.id
	}
	return bytes.Compare(a.key[8:], b.key[8:]) < 0
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*sourceCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// sourceCount is SourceItemCount inside a transaction.
func sourceCount(tx *bbolt.Tx, sourceID string) uint64 {
	var n uint64
	if b := tx.Bucket(bucketItems).Bucket([]byte(sourceID)); b != nil {
		n = b.Sequence()
	}
	if b := tx.Bucket(bucketAliases).Bucket([]byte(sourceID)); b != nil {
		n += b.Sequence()
	}
	return n
}

// Count returns the number of stories stored over all sources: a story
// carried by several sources counts once.
func (db *DB) Count(ctx context.Context) (int, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		items := tx.Bucket(bucketItems)
		return items.ForEachBucket(func(id []byte) error {
			n += items.Bucket(id).Sequence()
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return int(n), nil
}

// SourceItemCount returns the number of items sourceID delivered: those
// stored as its own and its copies merged into other sources' stories; 0
// for a source never saved.
func (db *DB) SourceItemCount(ctx context.Context, sourceID string) (int, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		n = sourceCount(tx, sourceID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", sourceID, err)
	}
	return int(n), nil
}
