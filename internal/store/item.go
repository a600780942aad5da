package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// maxKeyLen keeps an item key plus its 8-byte index prefix within bbolt's
// key limit (32KiB).
const maxKeyLen = bbolt.MaxKeySize - 8

// SavePoll stores the items of one successful parse of sourceID and the
// source's new state, in one write transaction: either all of it is stored
// or none. For each item, identified by sourceID and Key:
//
//   - a new item gets FirstSeen = now; an undated one (Dated false) gets
//     Published = FirstSeen; Updated is raised to Published when zero or
//     earlier. It counts as New.
//   - a stored item whose content is the same ([feed.SameContent]) is not
//     written at all, even if its Updated date moved. It counts as Unchanged.
//   - a stored item whose content changed is replaced, keeping the stored
//     FirstSeen, Published, Dated and Origins; Updated becomes the item's
//     Updated if that is after the stored one, else now. It counts as
//     Updated.
//
// An item whose key is new may still be a story the store has (see
// dedupe.go):
//
//   - the source's own item under a new key (same canonical link and
//     folded title, the old key gone from the feed: a GUID scheme change)
//     is treated as that item, which keeps its key and upstream id; the new
//     key becomes an alias. It counts as Updated or Unchanged as above.
//   - another source's story (same canonical link, or same folded title
//     with sort times at most the title window apart) gets the item as one
//     more origin; the item is not stored on its own. It counts as Merged.
//     Later polls of it count as Unchanged: the first origin's text stands.
//
// Canonical links are used only when state.Identity lets links identify
// the source's items ([feed.LinksIdentify]) and no other item of the poll
// has the same one.
//
// An item whose key has a tombstone (it was pruned, see [DB.Prune]) is not
// stored again and counts as Unchanged.
//
// A new item whose upstream id another stored item carries is stored with
// IDShared set ([feed.Item.IDShared], ids.go); an edit keeps the mark
// unless it changes the id. Whatever IDShared items come with is ignored.
//
// An item key that occurs twice in items is stored once; the later
// occurrence is compared with the earlier. state.SourceID is set to
// sourceID and state.Items to the number of items the source delivered
// (its own and its merged copies). It returns feed.EINVALID errors for an
// empty source id, an item of another source, or an empty or over-long
// item key.
func (db *DB) SavePoll(sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error) {
	var counts feed.PollCounts
	if err := validSourceID(sourceID, state.SourceID); err != nil {
		return counts, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	for _, it := range items {
		if it.SourceID != "" && it.SourceID != sourceID {
			return counts, fmt.Errorf("save poll %s: %w", sourceID,
				feed.Errorf(feed.EINVALID, "item %q belongs to source %q", it.Key, it.SourceID))
		}
		if it.Key == "" || len(it.Key) > maxKeyLen {
			return counts, fmt.Errorf("save poll %s: %w", sourceID,
				feed.Errorf(feed.EINVALID, "item key must be 1 to %d bytes (got %d)", maxKeyLen, len(it.Key)))
		}
	}
	now := jsonTime(db.now())
	id := []byte(sourceID)
	err := db.update(func(tx *bbolt.Tx) error {
		ib, err := tx.Bucket(bucketItems).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		tb, err := tx.Bucket(bucketByTime).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		dd, err := newDedupe(tx, sourceID, db.titleWindow, now, feed.LinksIdentify(state.Identity))
		if err != nil {
			return err
		}
		n := ib.Sequence()
		graves := tombstones(tx, id)
		for _, it := range items {
			if buried(graves, []byte(it.Key)) { // pruned: see prune.go
				counts.Unchanged++
				continue
			}
			it = storableItem(it)
			it.SourceID = sourceID
			it.Origins = nil
			key := []byte(it.Key)
			stored := ib.Get(key)
			if stored == nil {
				// Known under this key as another item (an alias)?
				a, ok, err := dd.alias(it.Key)
				if err != nil {
					return err
				}
				switch {
				case ok && a.Source != sourceID:
					counts.Unchanged++ // a copy: the first origin's text stands
					continue
				case ok:
					if stored = ib.Get([]byte(a.Key)); stored != nil {
						it.Key = a.Key
					}
				}
			}
			if stored == nil {
				it.FirstSeen = now
				if !it.Dated {
					it.Published = it.FirstSeen
				}
				if it.Updated.IsZero() || it.Updated.Before(it.Published) {
					it.Updated = it.Published
				}
				m, err := dd.findStory(it, items)
				if err != nil {
					return err
				}
				switch {
				case m == nil: // a story of its own
					if it.Seq, err = nextSeq(tx, sourceID, it.Key); err != nil {
						return err
					}
					if err := dd.claimID(&it); err != nil {
						return err
					}
					if it.Rev, err = nextRev(tx, it, 0); err != nil {
						return err
					}
					if err := putItem(ib, tb, it, nil); err != nil {
						return err
					}
					if err := dd.index(it, it.Sort(), ref{sourceID, it.Key}); err != nil {
						return err
					}
					n++
					counts.New++
					continue
				case m.rule != RuleRekey:
					if err := dd.merge(it, m); err != nil {
						return err
					}
					counts.Merged++
					continue
				case m.story.SourceID != sourceID: // the source's copy under a new key
					if err := dd.putAlias(it.Key, aliasRecord{Source: m.story.SourceID, Key: m.story.Key, Rule: RuleRekey, Seen: now}); err != nil {
						return err
					}
					counts.Unchanged++
					continue
				}
				// The source's own item under a new key.
				if err := dd.putAlias(it.Key, aliasRecord{Source: sourceID, Key: m.story.Key, Rule: RuleRekey, Seen: now}); err != nil {
					return err
				}
				it.Key = m.story.Key
				stored = ib.Get([]byte(it.Key))
			}
			old, err := decodeItem(sourceID, it.Key, stored)
			if err != nil {
				return fmt.Errorf("item %q: %w", it.Key, err)
			}
			if old.Key != string(key) {
				// Found under an older key: it stays what readers know.
				it.ID, it.IDIsPermaLink = old.ID, old.IDIsPermaLink
			}
			if feed.SameContent(old, it) {
				counts.Unchanged++
				continue
			}
			it.FirstSeen, it.Published, it.Dated = old.FirstSeen, old.Published, old.Dated
			it.Origins = old.Origins
			it.Seq = old.Seq
			if it.ID == old.ID {
				it.IDShared = old.IDShared // decided once: the published id stays
			} else if err := dd.claimID(&it); err != nil {
				return err
			}
			if !it.Updated.After(old.Updated) {
				it.Updated = now
			}
			if it.Rev, err = nextRev(tx, it, old.Rev); err != nil {
				return err
			}
			if err := putItem(ib, tb, it, indexKey(old)); err != nil {
				return err
			}
			counts.Updated++
		}
		if err := ib.SetSequence(n); err != nil {
			return err
		}
		state.SourceID, state.Items = sourceID, int(n+dd.aliases.Sequence())
		return putState(tx, state)
	})
	if err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	return counts, nil
}

// putItem writes it and its index entry, removing oldIndex first when the
// item had one under another sort time.
func putItem(ib, tb *bbolt.Bucket, it feed.Item, oldIndex []byte) error {
	v, err := encodeItem(it)
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
func (db *DB) Item(sourceID, key string) (feed.Item, error) {
	var it feed.Item
	err := db.view(func(tx *bbolt.Tx) error {
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

// Items returns the newest limit stories of the given sources, newest first
// by [feed.Item.Sort]; equal times order by source id, then key. Unknown
// source ids and repeated ones are ignored; limit <= 0 returns none.
//
// A story carried by several sources is returned once, attributed to the
// source that delivered it first (SourceID, Key), with every other source
// that carried it in Origins, whether or not they are among sourceIDs: a
// channel that selects only a later source still shows the story.
//
// It walks one cursor per source over the bytime index and merges them with
// a heap, so it reads about limit·log(len(sourceIDs)) entries however large
// the store is.
func (db *DB) Items(sourceIDs []string, limit int) ([]feed.Item, error) {
	out, err := db.walk(sourceIDs, nil, limit)
	if err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	return out, nil
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
	var a aliasRecord
	if err := json.Unmarshal(av, &a); err != nil {
		return feed.Item{}, false, fmt.Errorf("source %q alias %s: %w", sc.id, clip(key), err)
	}
	var v []byte
	if b := items.Bucket([]byte(a.Source)); b != nil {
		v = b.Get([]byte(a.Key))
	}
	if v == nil {
		return feed.Item{}, false, nil
	}
	it, err := decodeItem(a.Source, a.Key, v)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("source %q item %s: %w", a.Source, clip([]byte(a.Key)), err)
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
func (db *DB) Count() (int, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
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
func (db *DB) SourceItemCount(sourceID string) (int, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
		n = sourceCount(tx, sourceID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", sourceID, err)
	}
	return int(n), nil
}
