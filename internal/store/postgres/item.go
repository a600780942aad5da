package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// SavePoll is store.Polls.SavePoll: the poll's items decided by
// story.Poll.Decide one at a time and each decision executed before the
// next, in one writer transaction (see the package doc).
func (db *DB) SavePoll(ctx context.Context, sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error) {
	if err := store.CheckPoll(sourceID, items, state); err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	stateV, err := encodeState(state)
	if err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: state: %w", sourceID, err)
	}
	var counts feed.PollCounts
	err = db.write(ctx, "SavePoll", func(tx pgx.Tx) error {
		counts = feed.PollCounts{}
		p := &story.Poll{Source: sourceID, Items: items, TrustLinks: feed.LinksIdentify(state.Identity),
			TitleWindow: db.titleWindow, Now: story.Time(db.now())}
		pre, err := prefetch(ctx, tx, sourceID, items, db.titleWindow)
		if err != nil {
			return err
		}
		w := &poll{ctx: ctx, tx: tx, src: sourceID, sh: srcHash(sourceID), q: &pending{ctx: ctx, tx: tx, b: &pgx.Batch{}}}
		l := batchLookup{ctx: ctx, tx: tx, pre: pre, w: w.q}
		for _, it := range items {
			d, err := p.Decide(it, l)
			if err != nil {
				return err
			}
			if err := w.execute(d); err != nil {
				return fmt.Errorf("item %q: %w", it.Key, err)
			}
			pre.wrote(sourceID, d)
			switch d.Kind {
			case story.New:
				counts.New++
			case story.Update:
				counts.Updated++
			case story.Merge:
				counts.Merged++
			default:
				counts.Unchanged++
			}
		}
		w.q.Queue(`INSERT INTO sources (h, id, state, own, merged) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (h) DO UPDATE SET state = excluded.state, own = sources.own + excluded.own, merged = sources.merged + excluded.merged`,
			w.sh, []byte(sourceID), stateV, counts.New, counts.Merged)
		if err := w.q.flush(); err != nil {
			return err
		}
		_, _, _, err = w.revs.assign(ctx, tx)
		return err
	})
	if err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	return counts, nil
}

// poll is one SavePoll transaction; its writes are queued in q
// (pollbatch.go).
type poll struct {
	ctx  context.Context
	tx   pgx.Tx
	src  string
	sh   []byte
	q    *pending
	revs revs
}

// queuer takes statements to run later, in order.
type queuer interface {
	Queue(sql string, args ...any)
}

// execute writes what d decided about one item of the poll; the Rev
// numbers are given at the end of the transaction (revs.assign).
func (w *poll) execute(d story.Decision) error {
	q := w.q
	if d.Alias != nil {
		v, err := marshal(aliasRecord{Source: d.Alias.SourceID, Key: d.Alias.Key, Rule: d.Alias.Rule, Seen: story.Time(d.Alias.Seen)})
		if err != nil {
			return err
		}
		q.Queue(`INSERT INTO aliases (h, src, key, kh, body) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (h) DO UPDATE SET body = excluded.body`,
			refHash(w.src, d.AliasKey), []byte(w.src), []byte(d.AliasKey), keyHash(d.AliasKey), v)
	}
	it := d.Item
	h := refHash(it.SourceID, it.Key)
	switch d.Kind {
	case story.New:
		claim(q, d)
		body, err := encodeItem(it)
		if err != nil {
			return err
		}
		q.Queue(`INSERT INTO items (h, src, key, kh, seq, rev, body) VALUES ($1, $2, $3, $4, nextval('item_seq'), 0, $5)`,
			h, []byte(it.SourceID), []byte(it.Key), keyHash(it.Key), body)
		putPosition(q, w.sh, it.Sort(), it.Key, h)
		w.revs.item(h)
		index(q, d.Index, it, h)
	case story.Update:
		claim(q, d)
		if err := putBody(q, h, it); err != nil {
			return err
		}
		if old, now := record.SortNS(d.Stored.Sort()), record.SortNS(it.Sort()); old != now {
			q.Queue(`DELETE FROM positions WHERE sh = $1 AND ns = $2 AND kh = $3`, w.sh, old, keyHash(it.Key))
			putPosition(q, w.sh, it.Sort(), it.Key, h)
		}
		w.revs.item(h)
	case story.Merge:
		// A new carrier can put the story in other channels: it is
		// written again in the write order.
		if err := putBody(q, h, it); err != nil {
			return err
		}
		putPosition(q, w.sh, it.Sort(), d.AliasKey, h)
		w.revs.item(h)
		index(q, d.Index, it, h)
	}
	return nil
}

func putBody(q queuer, h []byte, it feed.Item) error {
	body, err := encodeItem(it)
	if err != nil {
		return err
	}
	q.Queue(`UPDATE items SET body = $2 WHERE h = $1`, h, body)
	return nil
}

// putPosition files key (an item of the source sh, or its copy of the
// story h) in the source's newest-first order at t.
func putPosition(q queuer, sh []byte, t time.Time, key string, story []byte) {
	q.Queue(`INSERT INTO positions (sh, ns, key, kh, story) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (sh, ns, kh) DO UPDATE SET story = excluded.story`, sh, record.SortNS(t), []byte(key), keyHash(key), story)
}

// claim records d's item as the claimant of its upstream id.
func claim(q queuer, d story.Decision) {
	if !d.Claim {
		return
	}
	it := d.Item
	q.Queue(`INSERT INTO ids (h, story, ref) VALUES ($1, $2, $3)
		ON CONFLICT (h) DO UPDATE SET story = excluded.story, ref = excluded.ref`,
		hashOf(it.ID), refHash(it.SourceID, it.Key), story.Ref{SourceID: it.SourceID, Key: it.Key}.Bytes())
}

// index records e, naming the story it (h) at its sort time, in the links
// and titles tables.
func index(q queuer, e story.Entries, it feed.Item, h []byte) {
	ref := story.Ref{SourceID: it.SourceID, Key: it.Key}.Bytes()
	if e.Link != "" {
		q.Queue(`INSERT INTO links (h, story, ref) VALUES ($1, $2, $3)
			ON CONFLICT (h) DO UPDATE SET story = excluded.story, ref = excluded.ref`, hashOf(e.Link), h, ref)
	}
	if e.Title != "" {
		q.Queue(`INSERT INTO titles (th, ns, story, ref) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			hashOf(e.Title), record.SortNS(it.Sort()), h, ref)
	}
}

// loadItem reads the stored item src/key; ok is false when there is none.
func loadItem(ctx context.Context, q querier, src, key string) (feed.Item, bool, error) {
	var (
		seq, rev int64
		body     []byte
	)
	err := q.QueryRow(ctx, `SELECT seq, rev, body FROM items WHERE h = $1`, refHash(src, key)).Scan(&seq, &rev, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return feed.Item{}, false, nil
	} else if err != nil {
		return feed.Item{}, false, err
	}
	it, err := decodeItem(src, key, seq, rev, body)
	if err != nil {
		return feed.Item{}, false, fmt.Errorf("item %s/%q: %w", src, key, err)
	}
	return it, true, nil
}

// lookup is story.Lookup over a writer transaction: it sees the
// transaction's own writes.
type lookup struct {
	ctx context.Context
	q   querier
}

func (l lookup) Item(src, key string) (feed.Item, bool, error) { return loadItem(l.ctx, l.q, src, key) }

func (l lookup) Alias(src, key string) (story.Alias, bool, error) {
	var v []byte
	err := l.q.QueryRow(l.ctx, `SELECT body FROM aliases WHERE h = $1`, refHash(src, key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return story.Alias{}, false, nil
	} else if err != nil {
		return story.Alias{}, false, err
	}
	a, err := decodeAlias(v)
	return a, err == nil, err
}

func (l lookup) Tombstone(src, key string) (bool, error) {
	var dead bool
	err := l.q.QueryRow(l.ctx, `SELECT EXISTS (SELECT 1 FROM tombstones WHERE h = $1)`, refHash(src, key)).Scan(&dead)
	return dead, err
}

func (l lookup) ref(sql string, h []byte) (story.Ref, bool, error) {
	var v []byte
	err := l.q.QueryRow(l.ctx, sql, h).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return story.Ref{}, false, nil
	} else if err != nil {
		return story.Ref{}, false, err
	}
	r, ok := story.ParseRef(v)
	if !ok {
		return story.Ref{}, false, fmt.Errorf("bad item reference %q", v)
	}
	return r, true, nil
}

func (l lookup) LinkOwner(lk string) (story.Ref, bool, error) {
	return l.ref(`SELECT ref FROM links WHERE h = $1`, hashOf(lk))
}

func (l lookup) IDOwner(id string) (story.Ref, bool, error) {
	return l.ref(`SELECT ref FROM ids WHERE h = $1`, hashOf(id))
}

func (l lookup) Titles(folded string, newest, oldest time.Time, limit int) ([]story.TitleEntry, error) {
	rows, err := l.q.Query(l.ctx, `SELECT ns, ref FROM titles WHERE th = $1 AND ns <= $2 AND ns >= $3
		ORDER BY ns DESC, ref LIMIT $4`, hashOf(folded), record.SortNS(newest), record.SortNS(oldest), limit)
	if err != nil {
		return nil, err
	}
	var out []story.TitleEntry
	for rows.Next() {
		var (
			ns  int64
			ref []byte
		)
		if err := rows.Scan(&ns, &ref); err != nil {
			return nil, err
		}
		r, ok := story.ParseRef(ref)
		if !ok {
			return nil, fmt.Errorf("bad title reference %q", ref)
		}
		out = append(out, story.TitleEntry{Story: r, Sort: nsTime(ns)})
	}
	return out, rows.Err()
}

// Item returns the stored item of sourceID under key, or a feed.ENOTFOUND
// error.
func (db *DB) Item(ctx context.Context, sourceID, key string) (feed.Item, error) {
	if err := read(ctx); err != nil {
		return feed.Item{}, fmt.Errorf("item %s %s: %w", sourceID, key, err)
	}
	it, ok, err := loadItem(ctx, db.pool, sourceID, key)
	switch {
	case err != nil:
		return feed.Item{}, fmt.Errorf("item %s %s: %w", sourceID, key, err)
	case !ok:
		return feed.Item{}, fmt.Errorf("item %s %s: %w", sourceID, key, feed.Errorf(feed.ENOTFOUND, "source %q has no item %q", sourceID, key))
	}
	return it, nil
}

// ItemsAfter is store.Polls.ItemsAfter. One statement reads at most
// limit positions per source (a lateral join on positions_order) and
// merges them; positions that name a story already listed are dropped,
// and when that leaves the page short the walk goes on from the last
// position read.
func (db *DB) ItemsAfter(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	if limit <= 0 || len(sourceIDs) == 0 {
		return nil, nil
	}
	ids := slices.Clone(sourceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	shs := make([][]byte, len(ids))
	for i, id := range ids {
		shs[i] = srcHash(id)
	}
	var pos *position
	if after != nil {
		pos = &position{ns: record.SortNS(story.Storable(*after).Sort()), src: after.SourceID, key: after.Key}
	}
	// One statement, usually: no transaction. When merged copies make a
	// page short, the next statement may see later commits; a story is
	// still listed once.
	var out []feed.Item
	err := func() error {
		seen := map[string]bool{}
		for len(out) < limit {
			want := limit - len(out)
			page, last, err := walkPositions(ctx, db.pool, shs, pos, want)
			if err != nil {
				return err
			}
			for _, r := range page {
				if r.ok && !seen[string(r.story)] {
					seen[string(r.story)] = true
					out = append(out, r.item)
				}
			}
			if last == nil || len(page) < want {
				return nil
			}
			pos = last
		}
		return nil
	}()
	if err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	return out, nil
}

// position is a place in the merged newest-first order of sources.
type position struct {
	ns       int64
	src, key string
}

type positioned struct {
	story []byte
	item  feed.Item
	ok    bool // the story is stored
}

const walkSQL = `SELECT p.ns, p.id, p.key, p.story, i.src, i.key, i.seq, i.rev, i.body
	FROM (SELECT p.ns, s.id, p.key, p.story
		FROM unnest($1::bytea[]) AS q(sh)
		JOIN sources s ON s.h = q.sh
		CROSS JOIN LATERAL (
			SELECT ns, key, story FROM positions p
			WHERE p.sh = q.sh AND (NOT $2 OR p.ns < $3 OR (p.ns = $3 AND (s.id > $4 OR (s.id = $4 AND p.key > $5))))
			ORDER BY p.ns DESC, p.key
			LIMIT $6) p
		ORDER BY p.ns DESC, s.id, p.key
		LIMIT $6) p
	LEFT JOIN LATERAL (SELECT src, key, seq, rev, body FROM items WHERE items.h = p.story LIMIT 1) i ON true
	ORDER BY p.ns DESC, p.id, p.key`

// walkPositions returns up to limit positions of the sources shs after
// pos (nil: from the newest), with their stories, and the last one.
func walkPositions(ctx context.Context, q querier, shs [][]byte, pos *position, limit int) ([]positioned, *position, error) {
	var (
		has      = pos != nil
		ns       = int64(math.MaxInt64)
		src, key []byte
	)
	if has {
		ns, src, key = pos.ns, []byte(pos.src), []byte(pos.key)
	}
	rows, err := q.Query(ctx, walkSQL, shs, has, ns, src, key, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		out  []positioned
		last *position
	)
	for rows.Next() {
		var (
			pns              int64
			sid, pkey, sh    []byte
			isrc, ikey, body []byte
			seq, rev         *int64
		)
		if err := rows.Scan(&pns, &sid, &pkey, &sh, &isrc, &ikey, &seq, &rev, &body); err != nil {
			return nil, nil, err
		}
		last = &position{ns: pns, src: string(sid), key: string(pkey)}
		r := positioned{story: sh}
		if seq != nil {
			it, err := decodeItem(string(isrc), string(ikey), *seq, *rev, body)
			if err != nil {
				return nil, nil, fmt.Errorf("item %s/%q: %w", isrc, ikey, err)
			}
			r.item, r.ok = it, true
		}
		out = append(out, r)
	}
	return out, last, rows.Err()
}

// Count returns the number of stories stored over all sources.
func (db *DB) Count(ctx context.Context) (int, error) {
	if err := read(ctx); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(own), 0)::bigint FROM sources`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return int(n), nil
}

// SourceItemCount returns the number of items sourceID delivered: its
// own stories and its copies merged into others'.
func (db *DB) SourceItemCount(ctx context.Context, sourceID string) (int, error) {
	if err := read(ctx); err != nil {
		return 0, fmt.Errorf("count %s: %w", sourceID, err)
	}
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT own + merged FROM sources WHERE h = $1`, srcHash(sourceID)).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("count %s: %w", sourceID, err)
	}
	return int(n), nil
}

// Locate is store.Polls.Locate.
func (db *DB) Locate(ctx context.Context, q string) ([]store.Found, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, fmt.Errorf("locate: %w", feed.Errorf(feed.EINVALID, "nothing to look for"))
	}
	var out []store.Found
	err := db.view(ctx, func(tx pgx.Tx) error {
		l := locator{ctx: ctx, tx: tx, seen: map[[3]string]bool{}}
		if src, key, ok := strings.Cut(q, "/"); ok && key != "" {
			if err := l.copy(src, key, "key"); err != nil {
				return err
			}
		}
		// q as an upstream id: the key "id:"+q of any source, as an item or
		// an alias, in source order.
		idKey := "id:" + q
		rows, err := tx.Query(ctx, `SELECT src FROM items WHERE kh = $1 AND key = $2
			UNION SELECT src FROM aliases WHERE kh = $1 AND key = $2 ORDER BY 1`, keyHash(idKey), []byte(idKey))
		if err != nil {
			return err
		}
		srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var b []byte
			err := r.Scan(&b)
			return string(b), err
		})
		if err != nil {
			return err
		}
		for _, src := range srcs {
			if err := l.copy(src, idKey, "id"); err != nil {
				return err
			}
		}
		if err := l.link(q); err != nil {
			return err
		}
		out = l.found
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locate %q: %w", q, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("locate %q: %w", q, feed.Errorf(feed.ENOTFOUND, "no stored item has the key, id or link %q", q))
	}
	return out, nil
}

type locator struct {
	ctx   context.Context
	tx    pgx.Tx
	found []store.Found
	seen  map[[3]string]bool // story ref and matched copy
}

func (l *locator) add(st feed.Item, src, key, how string, a *story.Alias) {
	id := [3]string{st.SourceID + "\x00" + st.Key, src, key}
	if l.seen[id] {
		return
	}
	l.seen[id] = true
	l.found = append(l.found, store.Found{Story: st, SourceID: src, Key: key, Match: how, Alias: a})
}

// copy adds src/key: the item, or the story its alias names.
func (l *locator) copy(src, key, how string) error {
	lk := lookup{ctx: l.ctx, q: l.tx}
	it, ok, err := lk.Item(src, key)
	if err != nil {
		return err
	}
	if ok {
		l.add(it, src, key, how, nil)
		return nil
	}
	a, ok, err := lk.Alias(src, key)
	if err != nil || !ok {
		return err
	}
	st, ok, err := lk.Item(a.SourceID, a.Key)
	if err != nil || !ok {
		return err
	}
	l.add(st, src, key, how, &a)
	return nil
}

// link adds the story the link index names for q, when q is an http(s)
// URL, attributed to the copy that carries the link.
func (l *locator) link(q string) error {
	lk := feed.LinkKey(q)
	if !strings.Contains(lk, "/") || strings.Contains(q, " ") {
		return nil
	}
	look := lookup{ctx: l.ctx, q: l.tx}
	r, ok, err := look.LinkOwner(lk)
	if err != nil || !ok {
		return err
	}
	st, ok, err := look.Item(r.SourceID, r.Key)
	if err != nil || !ok {
		return err
	}
	if feed.LinkKey(st.Link) != lk {
		for _, o := range st.Origins {
			if feed.LinkKey(o.Link) == lk {
				l.add(st, o.SourceID, o.Key, "link", &story.Alias{SourceID: st.SourceID, Key: st.Key, Rule: o.Rule, Seen: o.Seen})
				return nil
			}
		}
	}
	l.add(st, st.SourceID, st.Key, "link", nil)
	return nil
}
