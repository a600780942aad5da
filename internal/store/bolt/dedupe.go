package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// How one story carried by several sources is stored once (the rules are
// the story package's; this file keeps their records).
//
// The first source to deliver a story stores it as its own item; every
// later copy (another source's item with the same canonical link, or the
// same folded title within the title window) is recorded in three places,
// all in the write transaction of the poll that found it:
//
//   - as a feed.Origin of the story (its source, key, link, the rule that
//     merged it and when), kept in the story's item record;
//   - as an alias, aliases/<source>/<key> → the story, so that re-polls of
//     the copy find the story instead of storing the copy again;
//   - as an entry of the copy's source in bytime, at the story's sort time,
//     so that a channel selecting only that source still shows the story.
//
// Two global indexes find the story a new item may be a copy of:
//
//	links  / <feed.LinkKey of a link>                          → ref of the story
//	titles / <16-byte hash of canon.Title><8-byte sort stamp><ref> → empty
//
// A ref is uvarint(len(source id)), the source id, then the item key. The
// links index keeps the first story each canonical link was seen with; the
// titles index is scanned over [t − window, t + window] by sort stamp, so
// the window can change without rebuilding anything.
//
// The same machinery recognises a source's own item under a new key (a
// GUID scheme change, or a poll keyed by link after a repeated GUID): same
// canonical link, same folded title, and the old key absent from the poll.
// That is recorded as an alias with rule RuleRekey and nothing else.

var (
	bucketAliases = []byte("aliases")
	bucketLinks   = []byte("links")
	bucketTitles  = []byte("titles")
)

// parseRef decodes a ref (story.Ref.Bytes), copying it out of bbolt's
// memory.
func parseRef(b []byte) (story.Ref, error) {
	r, ok := story.ParseRef(b)
	if !ok {
		return story.Ref{}, fmt.Errorf("bad item reference %s", clip(b))
	}
	return r, nil
}

// aliasRecord is stored under aliases/<source>/<key>: the copy is known as
// the story Source/Key, merged by Rule at Seen.
type aliasRecord struct {
	Source string    `json:"source"`
	Key    string    `json:"key"`
	Rule   string    `json:"rule"`
	Seen   time.Time `json:"seen,omitzero"`
}

func decodeAlias(key, v []byte) (story.Alias, error) {
	var a aliasRecord
	if err := json.Unmarshal(v, &a); err != nil {
		return story.Alias{}, fmt.Errorf("alias %s: %w", clip(key), err)
	}
	return story.Alias{SourceID: a.Source, Key: a.Key, Rule: a.Rule, Seen: a.Seen}, nil
}

// putAlias records a in the aliases bucket of one source (ab) under key.
func putAlias(ab *bbolt.Bucket, key string, a story.Alias) error {
	v, err := marshal(aliasRecord{Source: a.SourceID, Key: a.Key, Rule: a.Rule, Seen: jsonTime(a.Seen)})
	if err != nil {
		return err
	}
	return ab.Put([]byte(key), v)
}

// titleHash is the index prefix of a folded title.
func titleHash(folded string) []byte {
	sum := sha256.Sum256([]byte(folded))
	return sum[:16]
}

// titleKey is the titles entry of the story r filed under folded at t.
func titleKey(folded string, t time.Time, r story.Ref) []byte {
	return append(append(titleHash(folded), stampBytes(t)...), r.Bytes()...)
}

// index records e, entries naming the story it (at its sort time), in the
// links and titles buckets. A title entry longer than bbolt's key limit (an
// absurd source id and key) is not written.
func index(tx *bbolt.Tx, e story.Entries, it feed.Item) error {
	sr := story.Ref{SourceID: it.SourceID, Key: it.Key}
	if e.Link != "" {
		if err := tx.Bucket(bucketLinks).Put([]byte(e.Link), sr.Bytes()); err != nil {
			return err
		}
	}
	if e.Title != "" {
		if k := titleKey(e.Title, it.Sort(), sr); len(k) <= bbolt.MaxKeySize {
			if err := tx.Bucket(bucketTitles).Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// forgetStory removes what the indexes hold about st, which the caller is
// deleting in the same transaction (pruning): story.Forget says what.
func forgetStory(tx *bbolt.Tx, st feed.Item) error {
	u := story.Forget(st)
	links, own := tx.Bucket(bucketLinks), story.Ref{SourceID: st.SourceID, Key: st.Key}.Bytes()
	for _, l := range u.Links {
		if lk := []byte(l); bytes.Equal(links.Get(lk), own) {
			if err := links.Delete(lk); err != nil {
				return err
			}
		}
	}
	if u.Title != "" {
		if err := tx.Bucket(bucketTitles).Delete(titleKey(u.Title, st.Sort(), story.Ref{SourceID: st.SourceID, Key: st.Key})); err != nil {
			return err
		}
	}
	for _, c := range u.Copies {
		if tb := tx.Bucket(bucketByTime).Bucket([]byte(c.SourceID)); tb != nil {
			if err := tb.Delete(indexKeyAt(st.Sort(), c.Key)); err != nil {
				return err
			}
		}
	}
	if b := tx.Bucket(bucketIDs); b != nil && u.ID != "" && bytes.Equal(b.Get([]byte(u.ID)), own) {
		return b.Delete([]byte(u.ID))
	}
	return nil
}

// stampBytes is the big-endian sort stamp of t.
func stampBytes(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, record.SortStamp(t))
}

// stampTime inverts record.SortStamp.
func stampTime(stamp uint64) time.Time {
	return time.Unix(0, int64(^stamp^1<<63)).UTC()
}

// indexKeyAt is a bytime key for key at sort time t.
func indexKeyAt(t time.Time, key string) []byte {
	return append(stampBytes(t), key...)
}

// lookup is story.Lookup over a transaction: what the rules read, seeing
// the writes of the decisions executed before in the same transaction.
type lookup struct {
	tx                                  *bbolt.Tx
	items, aliases, links, titles, dead *bbolt.Bucket // dead: tombstones, nil until the first prune
}

func newLookup(tx *bbolt.Tx) *lookup {
	return &lookup{tx: tx, items: tx.Bucket(bucketItems), aliases: tx.Bucket(bucketAliases),
		links: tx.Bucket(bucketLinks), titles: tx.Bucket(bucketTitles), dead: tx.Bucket(bucketTombstones)}
}

func (l *lookup) Item(src, key string) (feed.Item, bool, error) {
	return loadStory(l.items, src, key)
}

func (l *lookup) Alias(src, key string) (story.Alias, bool, error) {
	ab := l.aliases.Bucket([]byte(src))
	if ab == nil {
		return story.Alias{}, false, nil
	}
	v := ab.Get([]byte(key))
	if v == nil {
		return story.Alias{}, false, nil
	}
	a, err := decodeAlias([]byte(key), v)
	return a, err == nil, err
}

func (l *lookup) Tombstone(src, key string) (bool, error) {
	if l.dead == nil {
		return false, nil
	}
	return buried(l.dead.Bucket([]byte(src)), []byte(key)), nil
}

func (l *lookup) LinkOwner(lk string) (story.Ref, bool, error) {
	v := l.links.Get([]byte(lk))
	if v == nil {
		return story.Ref{}, false, nil
	}
	r, err := parseRef(v)
	return r, err == nil, err
}

func (l *lookup) Titles(folded string, newest, oldest time.Time, limit int) ([]story.TitleEntry, error) {
	prefix := titleHash(folded)
	from := append(slices.Clone(prefix), stampBytes(newest)...)
	last := record.SortStamp(oldest)
	var out []story.TitleEntry
	c := l.titles.Cursor()
	for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(k) > len(prefix)+8 && len(out) < limit; k, _ = c.Next() {
		stamp := binary.BigEndian.Uint64(k[len(prefix):])
		if stamp > last {
			break
		}
		r, err := parseRef(k[len(prefix)+8:])
		if err != nil {
			return nil, err
		}
		out = append(out, story.TitleEntry{Story: r, Sort: stampTime(stamp)})
	}
	return out, nil
}

func (l *lookup) IDOwner(id string) (story.Ref, bool, error) {
	b := l.tx.Bucket(bucketIDs)
	if b == nil || len(id) > bbolt.MaxKeySize {
		return story.Ref{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return story.Ref{}, false, nil
	}
	r, err := parseRef(v)
	return r, err == nil, err
}
