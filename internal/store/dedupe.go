package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
)

// How one story carried by several sources is stored once.
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

// Rules recorded on origins and aliases.
const (
	RuleLink  = "link"  // same canonical link as the story
	RuleTitle = "title" // same folded title within the title window
	RuleRekey = "rekey" // the same source's item under a new key (same link and title)
)

// maxLinkKey bounds the canonical links that are indexed; longer ones are
// not links anyone shares.
const maxLinkKey = 4096

// maxTitleScan bounds the titles index entries one new item looks at: a
// title given to more items than that within the window ("속보", a
// feed's fixed headline) names no one story, and a hostile feed must not
// make every poll slower than the last.
const maxTitleScan = 64

var (
	bucketAliases = []byte("aliases")
	bucketLinks   = []byte("links")
	bucketTitles  = []byte("titles")
)

// ref names a stored item: its source and key.
type ref struct{ src, key string }

func (r ref) bytes() []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(r.src)+len(r.key)), uint64(len(r.src)))
	b = append(b, r.src...)
	return append(b, r.key...)
}

// parseRef decodes a ref, copying it out of bbolt's memory.
func parseRef(b []byte) (ref, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return ref{}, fmt.Errorf("bad item reference %s", clip(b))
	}
	return ref{src: string(b[w : w+int(n)]), key: string(b[w+int(n):])}, nil
}

// aliasRecord is stored under aliases/<source>/<key>: the copy is known as
// the story Source/Key, merged by Rule at Seen.
type aliasRecord struct {
	Source string    `json:"source"`
	Key    string    `json:"key"`
	Rule   string    `json:"rule"`
	Seen   time.Time `json:"seen,omitzero"`
}

// Alias is a source's item key that names another stored item: a copy of
// a story another source delivered first (rule "link" or "title"), or the
// source's own item under a new key (rule "rekey").
type Alias struct {
	SourceID, Key string // the story it names
	Rule          string
	Seen          time.Time
}

// titleHash is the index prefix of a folded title.
func titleHash(folded string) []byte {
	sum := sha256.Sum256([]byte(folded))
	return sum[:16]
}

// dedupe is the identity work of one SavePoll transaction.
type dedupe struct {
	tx     *bbolt.Tx
	items  *bbolt.Bucket // items (all sources)
	bytime *bbolt.Bucket // bytime (all sources)
	links  *bbolt.Bucket
	titles *bbolt.Bucket
	window time.Duration
	now    time.Time

	src      string
	aliases  *bbolt.Bucket // aliases/<src>
	trustURL bool          // the source's links identify its items

	poll *pollInfo // built on the first item that is not found by key
}

// pollInfo is what the poll as a whole says about its items.
type pollInfo struct {
	keys      map[string]bool // every key in the poll
	ambiguous map[string]bool // link keys shared by items with different keys
}

func newPollInfo(items []feed.Item) *pollInfo {
	p := &pollInfo{keys: make(map[string]bool, len(items)), ambiguous: map[string]bool{}}
	first := make(map[string]string, len(items))
	for _, it := range items {
		p.keys[it.Key] = true
		if it.Link == "" {
			continue
		}
		lk := feed.LinkKey(it.Link)
		if k, ok := first[lk]; ok && k != it.Key {
			p.ambiguous[lk] = true
		} else {
			first[lk] = it.Key
		}
	}
	return p
}

func newDedupe(tx *bbolt.Tx, src string, window time.Duration, now time.Time, trustLinks bool) (*dedupe, error) {
	a, err := tx.Bucket(bucketAliases).CreateBucketIfNotExists([]byte(src))
	if err != nil {
		return nil, err
	}
	return &dedupe{
		tx: tx, items: tx.Bucket(bucketItems), bytime: tx.Bucket(bucketByTime),
		links: tx.Bucket(bucketLinks), titles: tx.Bucket(bucketTitles),
		window: window, now: now, src: src, aliases: a, trustURL: trustLinks,
	}, nil
}

// alias returns the alias of key in the poll's source, if any.
func (d *dedupe) alias(key string) (aliasRecord, bool, error) {
	v := d.aliases.Get([]byte(key))
	if v == nil {
		return aliasRecord{}, false, nil
	}
	var a aliasRecord
	if err := json.Unmarshal(v, &a); err != nil {
		return aliasRecord{}, false, fmt.Errorf("alias %s: %w", clip([]byte(key)), err)
	}
	return a, true, nil
}

func (d *dedupe) putAlias(key string, a aliasRecord) error {
	a.Seen = jsonTime(a.Seen)
	v, err := marshal(a)
	if err != nil {
		return err
	}
	return d.aliases.Put([]byte(key), v)
}

// load returns the stored item r names, and false when there is none (an
// index entry left behind by an item that is gone).
func (d *dedupe) load(r ref) (feed.Item, bool, error) {
	b := d.items.Bucket([]byte(r.src))
	if b == nil {
		return feed.Item{}, false, nil
	}
	v := b.Get([]byte(r.key))
	if v == nil {
		return feed.Item{}, false, nil
	}
	it, err := decodeItem(r.src, r.key, v)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("item %s/%s: %w", r.src, clip([]byte(r.key)), err)
	}
	return it, true, nil
}

// match is what findStory makes of a new key.
type match struct {
	story feed.Item // the stored story
	rule  string    // RuleLink or RuleTitle for a merge; RuleRekey for the source's own item or copy
}

// findStory looks for the story a poll item with an unknown key belongs
// to. It returns nil when the item is a story of its own. it has the
// dates it would be stored with.
func (d *dedupe) findStory(it feed.Item, items []feed.Item) (*match, error) {
	if d.poll == nil {
		d.poll = newPollInfo(items)
	}
	if d.trustURL && it.Link != "" {
		lk := feed.LinkKey(it.Link)
		if v := d.links.Get([]byte(lk)); v != nil && !d.poll.ambiguous[lk] {
			r, err := parseRef(v)
			if err != nil {
				return nil, err
			}
			story, ok, err := d.load(r)
			if err != nil {
				return nil, err
			}
			if ok {
				return d.byLink(it, story), nil
			}
		}
	}
	return d.byTitle(it)
}

// byLink decides what a new key whose canonical link names story is.
func (d *dedupe) byLink(it, story feed.Item) *match {
	if story.SourceID == d.src {
		// The source's own item under a new key: a GUID scheme change,
		// as long as the old key left the feed and the title is the same.
		if !d.poll.keys[story.Key] && sameTitle(story.Title, it.Title) {
			return &match{story: story, rule: RuleRekey}
		}
		return nil
	}
	if o, ok := originOf(story, d.src); ok && !d.poll.keys[o.Key] {
		// The source's copy under a new key.
		return &match{story: story, rule: RuleRekey}
	}
	// Another copy; perhaps the source's second one (a category feed that
	// lists the agency's and a paper's version of one story).
	return &match{story: story, rule: RuleLink}
}

// byTitle looks for another source's story with it's folded title whose
// sort time is within the window of it's, the nearest in time first.
func (d *dedupe) byTitle(it feed.Item) (*match, error) {
	folded := canon.Title(it.Title)
	if d.window <= 0 || folded == "" {
		return nil, nil
	}
	prefix := titleHash(folded)
	t := it.Sort()
	from := append(slices.Clone(prefix), stampBytes(t.Add(d.window))...)
	last := binary.BigEndian.Uint64(stampBytes(t.Add(-d.window)))
	type cand struct {
		r    ref
		dist time.Duration
	}
	var cands []cand
	c := d.titles.Cursor()
	seen := 0
	for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(k) > len(prefix)+8; k, _ = c.Next() {
		stamp := binary.BigEndian.Uint64(k[len(prefix):])
		if stamp > last {
			break
		}
		if seen++; seen > maxTitleScan {
			break // a title that common is not one story's
		}
		r, err := parseRef(k[len(prefix)+8:])
		if err != nil {
			return nil, err
		}
		if r.src == d.src {
			continue // the title rule is for other sources' stories
		}
		dist := stampTime(stamp).Sub(t).Abs()
		cands = append(cands, cand{r, dist})
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.dist, b.dist) })
	for _, c := range cands {
		story, ok, err := d.load(c.r)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, carried := originOf(story, d.src); carried {
			continue // the source has its own item with this title: a different story
		}
		return &match{story: story, rule: RuleTitle}, nil
	}
	return nil, nil
}

// merge records it, a copy of m.story found by m.rule, on the story: an
// origin, an alias, a bytime entry of the copy's source, and the copy's
// link and title in the indexes. A source that lists two copies of one
// story is an origin twice.
func (d *dedupe) merge(it feed.Item, m *match) error {
	story := m.story
	story.Origins = append(story.Origins, feed.Origin{
		SourceID: d.src, Key: it.Key, Link: it.Link, Rule: m.rule, Seen: d.now,
	})
	// A new carrier can put the story in other channels: it is written
	// again in the write order for those who follow it.
	var err error
	if story.Rev, err = nextRev(d.tx, story, story.Rev); err != nil {
		return err
	}
	ib := d.items.Bucket([]byte(story.SourceID))
	v, err := encodeItem(story)
	if err != nil {
		return fmt.Errorf("item %q: %w", story.Key, err)
	}
	if err := ib.Put([]byte(story.Key), v); err != nil {
		return err
	}
	sr := ref{story.SourceID, story.Key}
	if err := d.putAlias(it.Key, aliasRecord{Source: sr.src, Key: sr.key, Rule: m.rule, Seen: d.now}); err != nil {
		return err
	}
	if err := d.aliases.SetSequence(d.aliases.Sequence() + 1); err != nil {
		return err
	}
	tb, err := d.bytime.CreateBucketIfNotExists([]byte(d.src))
	if err != nil {
		return err
	}
	if err := tb.Put(indexKeyAt(story.Sort(), it.Key), nil); err != nil {
		return err
	}
	return d.index(it, story.Sort(), sr)
}

// index adds it's canonical link (when the source's links are trusted and
// no other item of the poll shares it) and folded title to the indexes,
// naming the story sr sorted at t. A link already indexed keeps its story.
func (d *dedupe) index(it feed.Item, t time.Time, sr ref) error {
	if d.poll == nil {
		d.poll = &pollInfo{} // a new source's first items: nothing is ambiguous yet
	}
	rb := sr.bytes()
	if it.Link != "" && d.trustURL {
		lk := []byte(feed.LinkKey(it.Link))
		free, err := d.linkFree(lk)
		if err != nil {
			return err
		}
		if free && len(lk) <= maxLinkKey && !d.poll.ambiguous[string(lk)] {
			if err := d.links.Put(lk, rb); err != nil {
				return err
			}
		}
	}
	if folded := canon.Title(it.Title); folded != "" {
		k := append(append(titleHash(folded), stampBytes(t)...), rb...)
		if len(k) <= bbolt.MaxKeySize {
			if err := d.titles.Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkFree reports whether the link key lk may be given to a story: it
// names none, or one that is gone.
func (d *dedupe) linkFree(lk []byte) (bool, error) {
	v := d.links.Get(lk)
	if v == nil {
		return true, nil
	}
	r, err := parseRef(v)
	if err != nil {
		return false, err
	}
	_, ok, err := d.load(r)
	return !ok, err
}

// forgetStory removes what the indexes hold about story, which the caller
// is deleting in the same transaction (pruning): its canonical link and
// those of its origins when they name it, its folded title, the bytime
// entries of its origins' sources, and its claim on its upstream id
// (ids.go). The aliases of its copies stay: a re-poll of a copy then finds
// a story that is gone and stores nothing, as for the story itself behind
// a tombstone. Index entries left behind
// anyway are ignored by readers and replaced by writers.
func forgetStory(tx *bbolt.Tx, story feed.Item) error {
	links, sr := tx.Bucket(bucketLinks), ref{story.SourceID, story.Key}
	own := sr.bytes()
	for _, l := range append([]string{story.Link}, originLinks(story)...) {
		if l == "" {
			continue
		}
		lk := []byte(feed.LinkKey(l))
		if bytes.Equal(links.Get(lk), own) {
			if err := links.Delete(lk); err != nil {
				return err
			}
		}
	}
	if folded := canon.Title(story.Title); folded != "" {
		k := append(append(titleHash(folded), stampBytes(story.Sort())...), own...)
		if err := tx.Bucket(bucketTitles).Delete(k); err != nil {
			return err
		}
	}
	for _, o := range story.Origins {
		if tb := tx.Bucket(bucketByTime).Bucket([]byte(o.SourceID)); tb != nil {
			if err := tb.Delete(indexKeyAt(story.Sort(), o.Key)); err != nil {
				return err
			}
		}
	}
	return forgetID(tx, story)
}

func originLinks(story feed.Item) []string {
	out := make([]string, len(story.Origins))
	for i, o := range story.Origins {
		out[i] = o.Link
	}
	return out
}

// originOf returns the origin of src on story, if src carried it.
func originOf(story feed.Item, src string) (feed.Origin, bool) {
	for _, o := range story.Origins {
		if o.SourceID == src {
			return o, true
		}
	}
	return feed.Origin{}, false
}

// sameTitle reports whether two titles of one source's item name the same
// story: equal once folded, or equal as written when too short to fold.
func sameTitle(a, b string) bool {
	fa, fb := canon.Title(a), canon.Title(b)
	if fa == "" || fb == "" {
		return a == b
	}
	return fa == fb
}

// stampBytes is the big-endian sort stamp of t.
func stampBytes(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, sortStamp(t))
}

// stampTime inverts sortStamp.
func stampTime(stamp uint64) time.Time {
	return time.Unix(0, int64(^stamp^1<<63)).UTC()
}

// indexKeyAt is a bytime key for key at sort time t.
func indexKeyAt(t time.Time, key string) []byte {
	return append(stampBytes(t), key...)
}
