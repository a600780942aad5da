package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// A poll's round trips. Deciding an item reads a few rows (the item by
// key, its alias, its tombstone, the owners of its link and id, the title
// index near its time) and executing the decision writes a few; one
// statement each would be ~9 round trips an item. So SavePoll reads,
// before deciding, every row the poll's own items name, one query per
// kind (prefetch), and queues the writes in one pgx.Batch (the poll's
// pending writes). The lookup answers from what it read until a write of
// the poll touches a row it read (that row is then read again); any read
// of a row it did not prefetch (the story an alias or a link names) sends
// the pending writes first, so that every read sees the transaction's own
// writes, as the rules require. The decisions are those one statement at
// a time would give.

// prefetched is what a poll read ahead, by row hash; a key present with
// a nil value is a row known not to exist. dirty rows were written since
// and are read again.
type prefetched struct {
	items   map[string]*rowItem
	aliases map[string][]byte
	tombs   map[string]bool
	links   map[string][]byte
	ids     map[string][]byte
	titles  map[string][]titleRow // by title hash, over [lo, hi]
	lo, hi  int64
	dirty   map[string]bool // "kind:hash"
}

type rowItem struct {
	seq, rev int64
	body     []byte
}

type titleRow struct {
	ns  int64
	ref []byte
}

// prefetch reads the rows items name.
func prefetch(ctx context.Context, tx pgx.Tx, src string, items []feed.Item, window time.Duration) (*prefetched, error) {
	p := &prefetched{items: map[string]*rowItem{}, aliases: map[string][]byte{}, tombs: map[string]bool{},
		links: map[string][]byte{}, ids: map[string][]byte{}, titles: map[string][]titleRow{}, dirty: map[string]bool{}}
	var refs, links, ids, titles [][]byte
	p.lo, p.hi = int64(^uint64(0)>>1), -int64(^uint64(0)>>1)-1
	for _, it := range items {
		h := refHash(src, it.Key)
		refs = append(refs, h)
		p.items[string(h)], p.aliases[string(h)], p.tombs[string(h)] = nil, nil, false
		if it.Link != "" {
			for _, l := range []string{feed.LinkKey(it.Link), feed.LinkKey(feed.CanonicalURL(it.Link))} {
				lh := hashOf(l)
				links = append(links, lh)
				p.links[string(lh)] = nil
			}
		}
		if it.ID != "" {
			ih := hashOf(it.ID)
			ids = append(ids, ih)
			p.ids[string(ih)] = nil
		}
		if t := canon.Title(it.Title); t != "" {
			th := hashOf(t)
			titles = append(titles, th)
			p.titles[string(th)] = nil
		}
		for _, t := range []time.Time{it.Published, it.Updated, it.FirstSeen} {
			if !t.IsZero() {
				ns := record.SortNS(t)
				p.lo, p.hi = min(p.lo, ns), max(p.hi, ns)
			}
		}
	}
	// Titles are read over the poll's times widened by the window, and by
	// a day more for items whose sort time is now (no date): any query
	// outside [lo, hi] goes to the database.
	wide := int64(window) + int64(24*time.Hour)
	if p.lo > p.hi {
		p.lo, p.hi = 0, -1 // no times: every title query goes to the database
	} else {
		p.lo, p.hi = sat(p.lo, -wide), sat(p.hi, wide)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT h, seq, rev, body FROM items WHERE h = ANY($1)`, refs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				h        []byte
				seq, rev int64
				body     []byte
			)
			if err := rows.Scan(&h, &seq, &rev, &body); err != nil {
				return err
			}
			p.items[string(h)] = &rowItem{seq, rev, body}
		}
		return rows.Err()
	})
	b.Queue(`SELECT h, body FROM aliases WHERE h = ANY($1)`, refs).Query(func(rows pgx.Rows) error {
		return scanPairs(rows, p.aliases)
	})
	b.Queue(`SELECT h FROM tombstones WHERE h = ANY($1)`, refs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				return err
			}
			p.tombs[string(h)] = true
		}
		return rows.Err()
	})
	b.Queue(`SELECT h, ref FROM links WHERE h = ANY($1)`, links).Query(func(rows pgx.Rows) error {
		return scanPairs(rows, p.links)
	})
	b.Queue(`SELECT h, ref FROM ids WHERE h = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		return scanPairs(rows, p.ids)
	})
	b.Queue(`SELECT th, ns, ref FROM titles WHERE th = ANY($1) AND ns >= $2 AND ns <= $3 ORDER BY th, ns DESC, ref`,
		titles, p.lo, p.hi).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				th, ref []byte
				ns      int64
			)
			if err := rows.Scan(&th, &ns, &ref); err != nil {
				return err
			}
			p.titles[string(th)] = append(p.titles[string(th)], titleRow{ns, ref})
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return p, nil
}

func sat(a, d int64) int64 {
	if d > 0 && a > int64(^uint64(0)>>1)-d {
		return int64(^uint64(0) >> 1)
	}
	if d < 0 && a < -int64(^uint64(0)>>1)-1-d {
		return -int64(^uint64(0)>>1) - 1
	}
	return a + d
}

func scanPairs(rows pgx.Rows, into map[string][]byte) error {
	for rows.Next() {
		var h, v []byte
		if err := rows.Scan(&h, &v); err != nil {
			return err
		}
		into[string(h)] = v
	}
	return rows.Err()
}

// pending is a poll's queued writes, sent before any read of the database
// and at the end.
type pending struct {
	ctx context.Context
	tx  pgx.Tx
	b   *pgx.Batch
}

func (p *pending) Queue(sql string, args ...any) { p.b.Queue(sql, args...) }

func (p *pending) flush() error {
	if p.b.Len() == 0 {
		return nil
	}
	err := p.tx.SendBatch(p.ctx, p.b).Close()
	p.b = &pgx.Batch{}
	return err
}

// batchLookup is story.Lookup over a poll's prefetched rows, its pending
// writes and, for anything else, the transaction.
type batchLookup struct {
	ctx context.Context
	tx  pgx.Tx
	pre *prefetched
	w   *pending
}

// cached reports whether kind's row h is to be answered from pre.
func (l batchLookup) cached(kind string, h []byte, has bool) bool {
	return has && !l.pre.dirty[kind+":"+string(h)]
}

// db is the transaction, once the pending writes are sent.
func (l batchLookup) db() (querier, error) {
	if err := l.w.flush(); err != nil {
		return nil, err
	}
	return l.tx, nil
}

func (l batchLookup) Item(src, key string) (feed.Item, bool, error) {
	h := refHash(src, key)
	if r, has := l.pre.items[string(h)]; l.cached("item", h, has) {
		if r == nil {
			return feed.Item{}, false, nil
		}
		it, err := decodeItem(src, key, r.seq, r.rev, r.body)
		if err != nil {
			return feed.Item{}, false, fmt.Errorf("item %s/%q: %w", src, key, err)
		}
		return it, true, nil
	}
	q, err := l.db()
	if err != nil {
		return feed.Item{}, false, err
	}
	return loadItem(l.ctx, q, src, key)
}

func (l batchLookup) Alias(src, key string) (story.Alias, bool, error) {
	h := refHash(src, key)
	if v, has := l.pre.aliases[string(h)]; l.cached("alias", h, has) {
		if v == nil {
			return story.Alias{}, false, nil
		}
		a, err := decodeAlias(v)
		return a, err == nil, err
	}
	q, err := l.db()
	if err != nil {
		return story.Alias{}, false, err
	}
	return lookup{ctx: l.ctx, q: q}.Alias(src, key)
}

func (l batchLookup) Tombstone(src, key string) (bool, error) {
	h := refHash(src, key)
	if dead, has := l.pre.tombs[string(h)]; has { // a poll writes no tombstone
		return dead, nil
	}
	q, err := l.db()
	if err != nil {
		return false, err
	}
	return lookup{ctx: l.ctx, q: q}.Tombstone(src, key)
}

func (l batchLookup) ref(kind string, m map[string][]byte, key string) (story.Ref, bool, error) {
	h := hashOf(key)
	if v, has := m[string(h)]; l.cached(kind, h, has) {
		if v == nil {
			return story.Ref{}, false, nil
		}
		r, ok := story.ParseRef(v)
		if !ok {
			return story.Ref{}, false, fmt.Errorf("bad item reference %q", v)
		}
		return r, true, nil
	}
	q, err := l.db()
	if err != nil {
		return story.Ref{}, false, err
	}
	if kind == "link" {
		return lookup{ctx: l.ctx, q: q}.LinkOwner(key)
	}
	return lookup{ctx: l.ctx, q: q}.IDOwner(key)
}

func (l batchLookup) LinkOwner(lk string) (story.Ref, bool, error) {
	return l.ref("link", l.pre.links, lk)
}

func (l batchLookup) IDOwner(id string) (story.Ref, bool, error) { return l.ref("id", l.pre.ids, id) }

func (l batchLookup) Titles(folded string, newest, oldest time.Time, limit int) ([]story.TitleEntry, error) {
	th := hashOf(folded)
	lo, hi := record.SortNS(oldest), record.SortNS(newest)
	if rows, has := l.pre.titles[string(th)]; l.cached("title", th, has) && lo >= l.pre.lo && hi <= l.pre.hi {
		var out []story.TitleEntry
		for _, r := range rows { // ns descending, then ref
			if r.ns > hi || r.ns < lo {
				continue
			}
			if len(out) == limit {
				break
			}
			ref, ok := story.ParseRef(r.ref)
			if !ok {
				return nil, fmt.Errorf("bad title reference %q", r.ref)
			}
			out = append(out, story.TitleEntry{Story: ref, Sort: nsTime(r.ns)})
		}
		return out, nil
	}
	q, err := l.db()
	if err != nil {
		return nil, err
	}
	return lookup{ctx: l.ctx, q: q}.Titles(folded, newest, oldest, limit)
}

// wrote marks the rows d's execution writes, so that the lookup reads
// them again (from the database, after the pending writes).
func (p *prefetched) wrote(src string, d story.Decision) {
	mark := func(kind string, h []byte) { p.dirty[kind+":"+string(h)] = true }
	if d.Alias != nil {
		mark("alias", refHash(src, d.AliasKey))
	}
	if d.Kind == story.Skip {
		return
	}
	it := d.Item
	mark("item", refHash(it.SourceID, it.Key))
	if d.Claim {
		mark("id", hashOf(it.ID))
	}
	if d.Index.Link != "" {
		mark("link", hashOf(d.Index.Link))
	}
	if d.Index.Title != "" {
		mark("title", hashOf(d.Index.Title))
	}
}
