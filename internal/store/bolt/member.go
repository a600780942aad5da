package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// Membership indexes: what a channel contains and in what order, as the
// membership package decided it (the store never decides; it keeps what
// it is given and serves it). Each index is named by an opaque key (the
// caller's hash of the channel's definition) and laid out as
//
//	members / <index> / "state"                   → store.IndexState, JSON
//	members / <index> / time / 0x00 <pin u16> <seq> → <until> <ref>   pinned members, in pin order
//	members / <index> / time / 0x01 <stamp> <seq>   → <until> <ref>   the others, newest first
//	members / <index> / seq / <seq>                 → <time key>      every member, first-stored order
//	members / <index> / pages / <page u32>          → <first seq> <count u32> <changed>
//	members / <index> / starts / <first seq>        → <page u32>
//	members / <index> / windows / <source id>       → <seq>…          the members a limited source holds
//	memberof / <ref> <index>                        → empty           the indexes a story is in
//
// where <seq> is the story's 8-byte big-endian Seq, <stamp> its bytime sort
// stamp (newest first), <until> the 8-byte Unix nanoseconds from which age
// drops it (0: never), and <ref> its source id, 0x00, its key. In memberof
// the ref is written as in dedupe.go (length-prefixed) and <index> is the
// last len(index) bytes.
//
// Archive pages cut the seq order: page n holds the members whose Seq is
// at least its first seq and below the next page's. A page is opened when
// a member arrives after every other while the last page holds PageSize
// members, so pages never renumber: a member that leaves leaves its page
// smaller, and one that comes back goes back to its page.
//
// Deleting a story (Prune) removes it from every index in the same
// transaction, through memberof.
var (
	bucketMembers  = []byte("members")
	bucketMemberOf = []byte("memberof")

	keyIndexState = []byte("state")
	bucketMTime   = []byte("time")
	bucketMSeq    = []byte("seq")
	bucketMPages  = []byte("pages")
	bucketMStarts = []byte("starts")
	bucketMWin    = []byte("windows")
)

// UpdateIndexes applies each update to its index, creating missing
// indexes, in one transaction: all of it is written or none.
func (db *DB) UpdateIndexes(ctx context.Context, updates map[string]store.IndexUpdate) (map[string]store.IndexState, error) {
	for index := range updates {
		if index == "" || len(index) > 255 {
			return nil, fmt.Errorf("update index: %w", feed.Errorf(feed.EINVALID, "index name must be 1 to 255 bytes"))
		}
	}
	sts := make(map[string]store.IndexState, len(updates))
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		for index, u := range updates {
			if u.Guard {
				var cur store.IndexState
				switch ix, err := openIndex(tx, index, false); {
				case err == nil:
					cur = ix.state
				case !errors.Is(err, store.ErrNoIndex):
					return err
				}
				if cur.Rev != u.From {
					sts[index] = cur // moved since the caller read it: skipped
					continue
				}
			}
			ix, err := openIndex(tx, index, true)
			if err != nil {
				return err
			}
			if err := ix.apply(u); err != nil {
				return fmt.Errorf("index %s: %w", index, err)
			}
			sts[index] = ix.state
			if err := ix.save(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update indexes: %w", err)
	}
	return sts, nil
}

// memberIndex is one index inside a transaction.
type memberIndex struct {
	tx                                *bbolt.Tx
	name                              []byte
	root, time, seq, pages, starts, w *bbolt.Bucket
	of                                *bbolt.Bucket
	state                             store.IndexState
}

func openIndex(tx *bbolt.Tx, index string, create bool) (*memberIndex, error) {
	ix := &memberIndex{tx: tx, name: []byte(index)}
	var err error
	if create {
		top, err := tx.CreateBucketIfNotExists(bucketMembers)
		if err != nil {
			return nil, err
		}
		if ix.root, err = top.CreateBucketIfNotExists(ix.name); err != nil {
			return nil, err
		}
		for _, b := range []struct {
			dst  **bbolt.Bucket
			name []byte
		}{{&ix.time, bucketMTime}, {&ix.seq, bucketMSeq}, {&ix.pages, bucketMPages}, {&ix.starts, bucketMStarts}, {&ix.w, bucketMWin}} {
			if *b.dst, err = ix.root.CreateBucketIfNotExists(b.name); err != nil {
				return nil, err
			}
		}
		if ix.of, err = tx.CreateBucketIfNotExists(bucketMemberOf); err != nil {
			return nil, err
		}
	} else {
		top := tx.Bucket(bucketMembers)
		if top != nil {
			ix.root = top.Bucket(ix.name)
		}
		if ix.root == nil {
			return nil, store.ErrNoIndex
		}
		ix.time, ix.seq, ix.pages = ix.root.Bucket(bucketMTime), ix.root.Bucket(bucketMSeq), ix.root.Bucket(bucketMPages)
		ix.starts, ix.w, ix.of = ix.root.Bucket(bucketMStarts), ix.root.Bucket(bucketMWin), tx.Bucket(bucketMemberOf)
		if ix.time == nil || ix.seq == nil || ix.pages == nil || ix.starts == nil || ix.w == nil || ix.of == nil {
			return nil, fmt.Errorf("index %s: missing buckets", clip(ix.name))
		}
	}
	if v := ix.root.Get(keyIndexState); v != nil {
		var r indexStateRecord
		if err = json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("index %s state: %w", clip(ix.name), err)
		}
		ix.state = store.IndexState(r)
	}
	return ix, nil
}

// indexStateRecord is how an index's state is stored.
type indexStateRecord struct {
	Rev      uint64    `json:"rev"`
	Complete bool      `json:"complete"`
	Count    int       `json:"count"`
	LastSeq  uint64    `json:"last_seq"`
	Pages    int       `json:"pages"`
	Created  time.Time `json:"created"`
	Changed  time.Time `json:"changed"`
	Label    string    `json:"label,omitempty"`
}

func (ix *memberIndex) save() error {
	v, err := marshal(indexStateRecord(ix.state))
	if err != nil {
		return err
	}
	return ix.root.Put(keyIndexState, v)
}

func (ix *memberIndex) apply(u store.IndexUpdate) error {
	now := jsonTime(u.Now)
	if ix.state.Created.IsZero() {
		ix.state.Created = now
	}
	for _, seq := range u.Delete {
		if err := ix.remove(seq, now, u.Touch); err != nil {
			return err
		}
	}
	put := slices.Clone(u.Put)
	slices.SortFunc(put, func(a, b store.Member) int { return compareUint(a.Seq, b.Seq) })
	for _, m := range put {
		if err := ix.put(m, now, u.PageSize, u.Touch); err != nil {
			return err
		}
	}
	for src, seqs := range u.Windows {
		if len(seqs) == 0 {
			if err := ix.w.Delete([]byte(src)); err != nil {
				return err
			}
			continue
		}
		if err := ix.w.Put([]byte(src), record.Window(seqs)); err != nil {
			return err
		}
	}
	if u.Rev > ix.state.Rev {
		ix.state.Rev = u.Rev
	}
	ix.state.Complete = ix.state.Complete || u.Complete
	if u.Label != "" {
		ix.state.Label = u.Label
	}
	return nil
}

func timeValue(m store.Member) []byte {
	var until uint64
	if !m.Until.IsZero() {
		until = uint64(m.Until.UnixNano())
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(m.SourceID)+len(m.Key)), until)
	return append(append(append(v, m.SourceID...), 0), m.Key...)
}

// decodeMember reads a time bucket entry.
func decodeMember(k, v []byte) (store.Member, error) {
	var m store.Member
	switch {
	case len(k) == 11 && k[0] == 0:
		m.Pin = int(k[1])<<8 | int(k[2])
		m.Seq = binary.BigEndian.Uint64(k[3:])
	case len(k) == 17 && k[0] == 1:
		m.Pin = -1
		m.Sort = stampTime(binary.BigEndian.Uint64(k[1:]))
		m.Seq = binary.BigEndian.Uint64(k[9:])
	default:
		return m, fmt.Errorf("bad member key %s", clip(k))
	}
	if len(v) < 8 {
		return m, fmt.Errorf("bad member value %s", clip(v))
	}
	if u := binary.BigEndian.Uint64(v); u != 0 {
		m.Until = time.Unix(0, int64(u)).UTC()
	}
	src, key, ok := cutRef(v[8:])
	if !ok {
		return m, fmt.Errorf("bad member reference %s", clip(v[8:]))
	}
	m.SourceID, m.Key = string(src), string(key)
	return m, nil
}

// ofPrefix is the memberof prefix of a story: the lengths make it the
// prefix of no other story's entries.
func ofPrefix(src, key string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 4+len(src)+len(key)), uint64(len(src)))
	b = binary.AppendUvarint(append(b, src...), uint64(len(key)))
	return append(b, key...)
}

// ofKey is the memberof key of a story in index.
func ofKey(src, key string, index []byte) []byte {
	return append(ofPrefix(src, key), index...)
}

func (ix *memberIndex) put(m store.Member, now time.Time, pageSize int, touch bool) error {
	if m.SourceID == "" || m.Key == "" || m.Seq == 0 || m.Pin > 0xFFFF {
		return feed.Errorf(feed.EINVALID, "member %s/%s seq %d pin %d", m.SourceID, m.Key, m.Seq, m.Pin)
	}
	if m.Pin < 0 {
		m.Pin = -1
	}
	m.Until = jsonTime(m.Until)
	sk := seqKey(m.Seq)
	tk, tv := record.MemberKey(m), timeValue(m)
	if b := ix.tx.Bucket(bucketItems).Bucket([]byte(m.SourceID)); b == nil || b.Get([]byte(m.Key)) == nil {
		return nil // deleted since it was read: a member names a stored story
	}
	if old := ix.seq.Get(sk); old != nil {
		if bytes.Equal(old, tk) && bytes.Equal(ix.time.Get(old), tv) {
			return nil // unchanged
		}
		if err := ix.time.Delete(bytes.Clone(old)); err != nil {
			return err
		}
		if err := ix.seq.Put(sk, tk); err != nil {
			return err
		}
		if err := ix.time.Put(tk, tv); err != nil {
			return err
		}
		ix.state.Changed = later(ix.state.Changed, now)
		return ix.touchPage(m.Seq, 0, now)
	}
	if pageSize > 0 && m.Seq > ix.state.LastSeq {
		last := ix.page(ix.state.Pages)
		if ix.state.Pages == 0 || last.Count >= pageSize {
			ix.state.Pages++
			if err := ix.putPage(store.PageInfo{Number: ix.state.Pages, First: m.Seq, Changed: now}); err != nil {
				return err
			}
			if err := ix.starts.Put(seqKey(m.Seq), binary.BigEndian.AppendUint32(nil, uint32(ix.state.Pages))); err != nil {
				return err
			}
		}
	}
	if err := ix.seq.Put(sk, tk); err != nil {
		return err
	}
	if err := ix.time.Put(tk, tv); err != nil {
		return err
	}
	if err := ix.of.Put(ofKey(m.SourceID, m.Key, ix.name), nil); err != nil {
		return err
	}
	ix.state.Count++
	ix.state.LastSeq = max(ix.state.LastSeq, m.Seq)
	ix.state.Changed = later(ix.state.Changed, now)
	if touch {
		if _, _, err := touchStory(ix.tx, m.SourceID, m.Key); err != nil {
			return err
		}
	}
	return ix.touchPage(m.Seq, 1, now)
}

// remove deletes the member seq, if present.
func (ix *memberIndex) remove(seq uint64, now time.Time, touch bool) error {
	sk := seqKey(seq)
	tk := ix.seq.Get(sk)
	if tk == nil {
		return nil
	}
	tk = bytes.Clone(tk)
	m, err := decodeMember(tk, ix.time.Get(tk))
	if err != nil {
		return err
	}
	for _, del := range []struct {
		b *bbolt.Bucket
		k []byte
	}{{ix.time, tk}, {ix.seq, sk}, {ix.of, ofKey(m.SourceID, m.Key, ix.name)}} {
		if err := del.b.Delete(del.k); err != nil {
			return err
		}
	}
	ix.state.Count--
	ix.state.Changed = later(ix.state.Changed, now)
	if touch {
		if _, _, err := touchStory(ix.tx, m.SourceID, m.Key); err != nil {
			return err
		}
	}
	return ix.touchPage(seq, -1, now)
}

// pageOf returns the number of the page covering seq; 0 when no page does.
func (ix *memberIndex) pageOf(seq uint64) int {
	c := ix.starts.Cursor()
	k, v := c.Seek(seqKey(seq))
	if k == nil || binary.BigEndian.Uint64(k) != seq {
		k, v = c.Prev()
	}
	switch {
	case k == nil && ix.state.Pages > 0:
		return 1 // before the first page's first member: the first page
	case k == nil || len(v) != 4:
		return 0
	}
	return int(binary.BigEndian.Uint32(v))
}

func (ix *memberIndex) page(n int) store.PageInfo {
	v := ix.pages.Get(binary.BigEndian.AppendUint32(nil, uint32(n)))
	if len(v) != 20 {
		return store.PageInfo{}
	}
	p := store.PageInfo{Number: n, First: binary.BigEndian.Uint64(v), Count: int(binary.BigEndian.Uint32(v[8:]))}
	if c := int64(binary.BigEndian.Uint64(v[12:])); c != 0 {
		p.Changed = time.Unix(0, c).UTC()
	}
	return p
}

func (ix *memberIndex) putPage(p store.PageInfo) error {
	v := binary.BigEndian.AppendUint64(nil, p.First)
	v = binary.BigEndian.AppendUint32(v, uint32(max(p.Count, 0)))
	var c uint64
	if !p.Changed.IsZero() {
		c = uint64(p.Changed.UnixNano())
	}
	v = binary.BigEndian.AppendUint64(v, c)
	return ix.pages.Put(binary.BigEndian.AppendUint32(nil, uint32(p.Number)), v)
}

// touchPage adds delta to the count of the page covering seq and marks it
// changed at now.
func (ix *memberIndex) touchPage(seq uint64, delta int, now time.Time) error {
	n := ix.pageOf(seq)
	if n == 0 {
		return nil
	}
	p := ix.page(n)
	p.Count += delta
	p.Changed = later(p.Changed, now)
	return ix.putPage(p)
}

// later returns the later of a and b: an index's times never go back.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// touchStory gives the stored story src/key the next Rev (moving its byrev
// entry), without changing it otherwise, and returns its Revs before and
// after; zeros when it is not stored.
func touchStory(tx *bbolt.Tx, src, key string) (old, rev uint64, err error) {
	ib := tx.Bucket(bucketItems).Bucket([]byte(src))
	if ib == nil {
		return 0, 0, nil
	}
	v := ib.Get([]byte(key))
	if v == nil {
		return 0, 0, nil
	}
	it, err := decodeItem(src, key, v)
	if err != nil {
		return 0, 0, fmt.Errorf("item %s: %w", clip([]byte(key)), err)
	}
	old = it.Rev
	if it.Rev, err = nextRev(tx, it, it.Rev); err != nil {
		return 0, 0, err
	}
	enc, err := encodeItem(it)
	if err != nil {
		return 0, 0, err
	}
	return old, it.Rev, ib.Put([]byte(key), enc)
}

// unindexStory removes the story (about to be deleted) from every index
// that holds it; now is the time of the change.
func unindexStory(tx *bbolt.Tx, it feed.Item, now time.Time) error {
	of := tx.Bucket(bucketMemberOf)
	if of == nil || it.Seq == 0 {
		return nil
	}
	prefix := ofPrefix(it.SourceID, it.Key)
	var names [][]byte
	c := of.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if name := k[len(prefix):]; len(name) > 0 {
			names = append(names, bytes.Clone(name))
		}
	}
	for _, name := range names {
		ix, err := openIndex(tx, string(name), false)
		if errors.Is(err, store.ErrNoIndex) {
			if err := of.Delete(append(slices.Clone(prefix), name...)); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		if err := ix.remove(it.Seq, jsonTime(now), false); err != nil {
			return err
		}
		if err := ix.save(); err != nil {
			return err
		}
	}
	return nil
}

// store.IndexState returns the state of index; ok is false when it does not
// exist.
func (db *DB) IndexState(ctx context.Context, index string) (st store.IndexState, ok bool, err error) {
	err = db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if errors.Is(err, store.ErrNoIndex) {
			return nil
		} else if err != nil {
			return err
		}
		st, ok = ix.state, true
		return nil
	})
	if err != nil {
		return store.IndexState{}, false, fmt.Errorf("index state %s: %w", index, err)
	}
	return st, ok, nil
}

// Indexes returns the names of every membership index.
func (db *DB) Indexes(ctx context.Context) ([]string, error) {
	var out []string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		top := tx.Bucket(bucketMembers)
		if top == nil {
			return nil
		}
		return top.ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("indexes: %w", err)
	}
	return out, nil
}

// dropBatch bounds the members DropIndex removes per write transaction.
const dropBatch = 2000

// DropIndex deletes index and its memberof entries, in write transactions
// of at most dropBatch members, so that writers never wait long; with
// touch, every member gets a new Rev (its channels changed). A missing
// index is not an error.
func (db *DB) DropIndex(ctx context.Context, index string, touch bool) error {
	for {
		done := false
		err := db.update(ctx, func(tx *bbolt.Tx) error {
			ix, err := openIndex(tx, index, false)
			if errors.Is(err, store.ErrNoIndex) {
				done = true
				return nil
			} else if err != nil {
				return err
			}
			var seqs []uint64
			c := ix.seq.Cursor()
			for k, _ := c.First(); k != nil && len(seqs) < dropBatch; k, _ = c.Next() {
				seqs = append(seqs, binary.BigEndian.Uint64(k))
			}
			if len(seqs) == 0 {
				done = true
				return tx.Bucket(bucketMembers).DeleteBucket(ix.name)
			}
			for _, s := range seqs {
				if err := ix.remove(s, ix.state.Changed, touch); err != nil {
					return err
				}
			}
			return ix.save()
		})
		if err != nil {
			return fmt.Errorf("drop index %s: %w", index, err)
		}
		if done {
			return nil
		}
	}
}

// Window returns the members a limited source holds in index, as last
// written by UpdateIndexes; nil when none were.
func (db *DB) Window(ctx context.Context, index, sourceID string) ([]uint64, error) {
	var out []uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		out = record.WindowSeqs(ix.w.Get([]byte(sourceID)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("window %s %s: %w", index, sourceID, err)
	}
	return out, nil
}

// LookupMembers returns the members of index among seqs, in the order of
// seqs; seqs that are not members are skipped.
func (db *DB) LookupMembers(ctx context.Context, index string, seqs []uint64) ([]store.Member, error) {
	var out []store.Member
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			tk := ix.seq.Get(seqKey(s))
			if tk == nil {
				continue
			}
			m, err := decodeMember(tk, ix.time.Get(tk))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup members %s: %w", index, err)
	}
	return out, nil
}

// MemberOf returns the names of the indexes the story src/key is in.
func (db *DB) MemberOf(ctx context.Context, src, key string) ([]string, error) {
	var out []string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		of := tx.Bucket(bucketMemberOf)
		if of == nil {
			return nil
		}
		prefix := ofPrefix(src, key)
		c := of.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) > len(prefix) {
				out = append(out, string(k[len(prefix):]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("member of %s %s: %w", src, key, err)
	}
	return out, nil
}

// Newest returns up to limit members of index in its newest-first order
// (pinned members first, in pin order, then by sort time, newest first,
// then by Seq, highest first), with their stories, starting after the
// member after (nil: from the first) and skipping skip members first. A
// member whose story is gone is left out. With reverse set it walks toward
// the first member instead, from just before after, and returns them in
// that (oldest-first) order.
func (db *DB) Newest(ctx context.Context, index string, after *store.Member, skip, limit int, reverse bool) ([]store.Member, []feed.Item, error) {
	var (
		ms  []store.Member
		its []feed.Item
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		items := tx.Bucket(bucketItems)
		c := ix.time.Cursor()
		var k, v []byte
		switch {
		case after == nil && !reverse:
			k, v = c.First()
		case after == nil:
			k, v = c.Last()
		default:
			tk := record.MemberKey(*after)
			k, v = c.Seek(tk)
			if !reverse && k != nil && bytes.Equal(k, tk) {
				k, v = c.Next()
			}
			if reverse {
				if k == nil {
					k, v = c.Last()
				} else {
					k, v = c.Prev()
				}
			}
		}
		step := c.Next
		if reverse {
			step = c.Prev
		}
		for ; k != nil && skip > 0; k, v = step() {
			skip--
		}
		for ; k != nil && len(ms) < limit; k, v = step() {
			m, err := decodeMember(k, v)
			if err != nil {
				return err
			}
			it, ok, err := loadStory(items, m.SourceID, m.Key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if m.Pin >= 0 {
				m.Sort = it.Sort()
			}
			ms, its = append(ms, m), append(its, it)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("members of %s: %w", index, err)
	}
	return ms, its, nil
}

// BySeq returns up to limit members of index whose Seq is at least from
// and below to (0: no bound), in Seq order, with their stories. A member
// whose story is gone is left out.
func (db *DB) BySeq(ctx context.Context, index string, from, to uint64, limit int) ([]store.Member, []feed.Item, error) {
	var (
		ms  []store.Member
		its []feed.Item
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		items := tx.Bucket(bucketItems)
		c := ix.seq.Cursor()
		for k, tk := c.Seek(seqKey(from)); k != nil && len(ms) < limit; k, tk = c.Next() {
			if to != 0 && binary.BigEndian.Uint64(k) >= to {
				break
			}
			m, err := decodeMember(tk, ix.time.Get(tk))
			if err != nil {
				return err
			}
			it, ok, err := loadStory(items, m.SourceID, m.Key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			m.Sort = it.Sort()
			ms, its = append(ms, m), append(its, it)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("members of %s by seq: %w", index, err)
	}
	return ms, its, nil
}

// IndexPage returns archive page n of index (see the layout above), or a
// feed.ENOTFOUND error for a page it does not have.
func (db *DB) IndexPage(ctx context.Context, index string, n int) (store.PageInfo, error) {
	var p store.PageInfo
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		if n < 1 || n > ix.state.Pages {
			return feed.Errorf(feed.ENOTFOUND, "no archive page %d", n)
		}
		p = ix.page(n)
		if n == 1 {
			// A member that comes back (or in) after the pages were cut
			// may be older than the first page's first: it belongs there.
			p.First = 0
		}
		if n < ix.state.Pages {
			p.Next = ix.page(n + 1).First
		}
		return nil
	})
	if err != nil {
		return store.PageInfo{}, fmt.Errorf("index %s page %d: %w", index, n, err)
	}
	return p, nil
}

// MemberSeqs returns up to limit Seqs of the members of index, in order,
// from from on: the keys alone, no story is read.
func (db *DB) MemberSeqs(ctx context.Context, index string, from uint64, limit int) ([]uint64, error) {
	var out []uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx, index, false)
		if err != nil {
			return err
		}
		c := ix.seq.Cursor()
		for k, _ := c.Seek(seqKey(from)); k != nil && len(out) < limit; k, _ = c.Next() {
			out = append(out, binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("member seqs of %s: %w", index, err)
	}
	return out, nil
}

// TouchSeqs gives the stories stored at these Seqs a new Rev (see
// store.IndexUpdate.Touch), in one write transaction; Seqs whose story is gone
// are skipped. It returns the Revs it gave, from first to last (all of
// them and nothing else: the transaction is the only writer; zeros when it
// gave none), and among them those of stories whose Rev was above seen:
// the write the touch moved had not been followed yet.
func (db *DB) TouchSeqs(ctx context.Context, seqs []uint64, seen uint64) (first, last uint64, unseen []uint64, err error) {
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBySeq)
		if b == nil {
			return nil
		}
		before := tx.Bucket(bucketByRev).Sequence()
		for _, s := range seqs {
			src, key, ok := cutRef(b.Get(seqKey(s)))
			if !ok {
				continue
			}
			old, rev, err := touchStory(tx, string(src), string(key))
			if err != nil {
				return err
			}
			if rev != 0 && old > seen {
				unseen = append(unseen, rev)
			}
		}
		if after := tx.Bucket(bucketByRev).Sequence(); after > before {
			first, last = before+1, after
		}
		return nil
	})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("touch: %w", err)
	}
	return first, last, unseen, nil
}

// loadStory reads the stored item src/key; ok is false when it is gone.
func loadStory(items *bbolt.Bucket, src, key string) (feed.Item, bool, error) {
	b := items.Bucket([]byte(src))
	if b == nil {
		return feed.Item{}, false, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return feed.Item{}, false, nil
	}
	it, err := decodeItem(src, key, v)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("item %s/%s: %w", src, clip([]byte(key)), err)
	}
	return it, true, nil
}

// ExpireMembers deletes from index the members whose Until is not after
// now, in write transactions of at most dropBatch, and records as the
// index's (and each page's) Changed the latest such Until: when they left.
// With touch, each gets a new Rev. It returns how many it deleted.
func (db *DB) ExpireMembers(ctx context.Context, index string, now time.Time, touch bool) (int, error) {
	total := 0
	for {
		n := 0
		err := db.update(ctx, func(tx *bbolt.Tx) error {
			ix, err := openIndex(tx, index, false)
			if errors.Is(err, store.ErrNoIndex) {
				return nil
			} else if err != nil {
				return err
			}
			type gone struct {
				seq   uint64
				until time.Time
			}
			var doomed []gone
			c := ix.time.Cursor()
			for k, v := c.First(); k != nil && len(doomed) < dropBatch; k, v = c.Next() {
				if len(v) < 8 {
					return fmt.Errorf("bad member value %s", clip(v))
				}
				u := binary.BigEndian.Uint64(v)
				if u == 0 || int64(u) > now.UnixNano() {
					continue
				}
				m, err := decodeMember(k, v)
				if err != nil {
					return err
				}
				doomed = append(doomed, gone{m.Seq, m.Until})
			}
			for _, g := range doomed {
				if err := ix.remove(g.seq, g.until, touch); err != nil {
					return err
				}
			}
			n = len(doomed)
			if n == 0 {
				return nil
			}
			return ix.save()
		})
		if err != nil {
			return total, fmt.Errorf("expire members of %s: %w", index, err)
		}
		total += n
		if n < dropBatch {
			return total, nil
		}
	}
}
