package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// Membership indexes. An index is a mindexes row (its state, JSON) and
// its members, one row per Seq. members.tk is the member's place in the
// newest-first order, in bolt's encoding, so that one B-tree (ix, tk) is
// that order:
//
//	0x00 <pin u16> <seq u64>   pinned members, in pin order
//	0x01 <stamp u64> <seq u64> the others, newest first (stamp: the inverted sort stamp)
//
// mpages are the archive pages (first Seq, count, changed), mwindows the
// Seqs a limited source holds. members_story finds the indexes a story is
// in (MemberOf, and Prune taking a story out of every index).

// dropBatch bounds the members DropIndex and ExpireMembers remove per
// transaction.
const dropBatch = 2000

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

// memberIndex is one index inside a transaction.
type memberIndex struct {
	ctx   context.Context
	q     querier
	name  []byte
	state store.IndexState
	revs  *revs // stories touched, given Revs at the end of the transaction
}

// openIndex reads index's state; store.ErrNoIndex when it does not exist
// and create is false.
func openIndex(ctx context.Context, q querier, index string, create bool, r *revs) (*memberIndex, error) {
	ix := &memberIndex{ctx: ctx, q: q, name: []byte(index), revs: r}
	var v []byte
	err := q.QueryRow(ctx, `SELECT state FROM mindexes WHERE name = $1`, ix.name).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && create:
		return ix, nil
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNoIndex
	case err != nil:
		return nil, err
	}
	var rec indexStateRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("index %q state: %w", index, err)
	}
	ix.state = store.IndexState(rec)
	return ix, nil
}

func (ix *memberIndex) save() error {
	v, err := marshal(indexStateRecord(ix.state))
	if err != nil {
		return err
	}
	_, err = ix.q.Exec(ix.ctx, `INSERT INTO mindexes (name, state) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET state = excluded.state`, ix.name, v)
	return err
}

// UpdateIndexes is store.Memberships.UpdateIndexes, in one writer
// transaction.
func (db *DB) UpdateIndexes(ctx context.Context, updates map[string]store.IndexUpdate) (map[string]store.IndexState, error) {
	for index := range updates {
		if index == "" || len(index) > store.MaxIndexName {
			return nil, fmt.Errorf("update index: %w", feed.Errorf(feed.EINVALID, "index name must be 1 to %d bytes", store.MaxIndexName))
		}
	}
	names := make([]string, 0, len(updates))
	for n := range updates {
		names = append(names, n)
	}
	slices.Sort(names)
	var sts map[string]store.IndexState
	err := db.write(ctx, "UpdateIndexes", func(tx pgx.Tx) error {
		sts = make(map[string]store.IndexState, len(updates))
		var r revs
		for _, index := range names {
			ix, err := openIndex(ctx, tx, index, true, &r)
			if err != nil {
				return err
			}
			if u := updates[index]; u.Guard && ix.state.Rev != u.From {
				sts[index] = ix.state // moved since the caller read it: skipped
				continue
			}
			if err := ix.apply(updates[index]); err != nil {
				return fmt.Errorf("index %q: %w", index, err)
			}
			sts[index] = ix.state
			if err := ix.save(); err != nil {
				return err
			}
		}
		_, _, _, err := r.assign(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update indexes: %w", err)
	}
	return sts, nil
}

func (ix *memberIndex) apply(u store.IndexUpdate) error {
	now := story.Time(u.Now)
	if ix.state.Created.IsZero() {
		ix.state.Created = now
	}
	for _, seq := range u.Delete {
		if err := ix.remove(seq, now, u.Touch); err != nil {
			return err
		}
	}
	put := slices.Clone(u.Put)
	slices.SortFunc(put, func(a, b store.Member) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, m := range put {
		if err := ix.put(m, now, u.PageSize, u.Touch); err != nil {
			return err
		}
	}
	for src, seqs := range u.Windows {
		if len(seqs) == 0 {
			if _, err := ix.q.Exec(ix.ctx, `DELETE FROM mwindows WHERE ix = $1 AND sh = $2`, ix.name, srcHash(src)); err != nil {
				return err
			}
			continue
		}
		if _, err := ix.q.Exec(ix.ctx, `INSERT INTO mwindows (ix, sh, seqs) VALUES ($1, $2, $3)
			ON CONFLICT (ix, sh) DO UPDATE SET seqs = excluded.seqs`, ix.name, srcHash(src), record.Window(seqs)); err != nil {
			return err
		}
	}
	ix.state.Rev = max(ix.state.Rev, u.Rev)
	ix.state.Complete = ix.state.Complete || u.Complete
	if u.Label != "" {
		ix.state.Label = u.Label
	}
	return nil
}

// decodeMember reads a members row.
func decodeMember(tk []byte, until int64, src, key []byte) (store.Member, error) {
	m := store.Member{SourceID: string(src), Key: string(key)}
	switch {
	case len(tk) == 11 && tk[0] == 0:
		m.Pin = int(tk[1])<<8 | int(tk[2])
		m.Seq = binary.BigEndian.Uint64(tk[3:])
	case len(tk) == 17 && tk[0] == 1:
		m.Pin = -1
		m.Sort = nsTime(int64(^binary.BigEndian.Uint64(tk[1:]) ^ 1<<63))
		m.Seq = binary.BigEndian.Uint64(tk[9:])
	default:
		return m, fmt.Errorf("bad member key %x", tk)
	}
	if until != 0 {
		m.Until = nsTime(until)
	}
	return m, nil
}

func untilNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (ix *memberIndex) put(m store.Member, now time.Time, pageSize int, touch bool) error {
	if m.SourceID == "" || m.Key == "" || m.Seq == 0 || m.Pin > 0xFFFF {
		return feed.Errorf(feed.EINVALID, "member %s/%s seq %d pin %d", m.SourceID, m.Key, m.Seq, m.Pin)
	}
	if m.Pin < 0 {
		m.Pin = -1
	}
	m.Until = story.Time(m.Until)
	tk, until, h := record.MemberKey(m), untilNS(m.Until), refHash(m.SourceID, m.Key)
	var stored bool
	if err := ix.q.QueryRow(ix.ctx, `SELECT EXISTS (SELECT 1 FROM items WHERE h = $1)`, h).Scan(&stored); err != nil {
		return err
	}
	if !stored {
		return nil // deleted since it was read: a member names a stored story
	}
	var (
		oldTK, oldStory []byte
		oldUntil        int64
	)
	err := ix.q.QueryRow(ix.ctx, `SELECT tk, until, story FROM members WHERE ix = $1 AND seq = $2`, ix.name, int64(m.Seq)).Scan(&oldTK, &oldUntil, &oldStory)
	switch {
	case err == nil:
		if string(oldTK) == string(tk) && oldUntil == until && string(oldStory) == string(h) {
			return nil // unchanged
		}
		if _, err := ix.q.Exec(ix.ctx, `UPDATE members SET tk = $3, until = $4, src = $5, key = $6, story = $7 WHERE ix = $1 AND seq = $2`,
			ix.name, int64(m.Seq), tk, until, []byte(m.SourceID), []byte(m.Key), h); err != nil {
			return err
		}
		ix.state.Changed = later(ix.state.Changed, now)
		return ix.touchPage(m.Seq, 0, now)
	case !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	if pageSize > 0 && m.Seq > ix.state.LastSeq {
		last, err := ix.page(ix.state.Pages)
		if err != nil {
			return err
		}
		if ix.state.Pages == 0 || last.Count >= pageSize {
			ix.state.Pages++
			if err := ix.putPage(store.PageInfo{Number: ix.state.Pages, First: m.Seq, Changed: now}); err != nil {
				return err
			}
		}
	}
	if _, err := ix.q.Exec(ix.ctx, `INSERT INTO members (ix, seq, tk, until, src, key, story) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		ix.name, int64(m.Seq), tk, until, []byte(m.SourceID), []byte(m.Key), h); err != nil {
		return err
	}
	ix.state.Count++
	ix.state.LastSeq = max(ix.state.LastSeq, m.Seq)
	ix.state.Changed = later(ix.state.Changed, now)
	if touch {
		ix.revs.item(h)
	}
	return ix.touchPage(m.Seq, 1, now)
}

// remove deletes the member seq, if present.
func (ix *memberIndex) remove(seq uint64, now time.Time, touch bool) error {
	var h []byte
	err := ix.q.QueryRow(ix.ctx, `DELETE FROM members WHERE ix = $1 AND seq = $2 RETURNING story`, ix.name, int64(seq)).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	ix.state.Count--
	ix.state.Changed = later(ix.state.Changed, now)
	if touch {
		ix.revs.item(h)
	}
	return ix.touchPage(seq, -1, now)
}

// pageOf returns the number of the page covering seq; 0 when none does.
func (ix *memberIndex) pageOf(seq uint64) (int, error) {
	var n int
	err := ix.q.QueryRow(ix.ctx, `SELECT n FROM mpages WHERE ix = $1 AND first <= $2 ORDER BY first DESC LIMIT 1`, ix.name, int64(seq)).Scan(&n)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && ix.state.Pages > 0:
		return 1, nil // before the first page's first member: the first page
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	}
	return n, err
}

func (ix *memberIndex) page(n int) (store.PageInfo, error) {
	p := store.PageInfo{Number: n}
	var (
		first   int64
		changed int64
	)
	err := ix.q.QueryRow(ix.ctx, `SELECT first, count, changed FROM mpages WHERE ix = $1 AND n = $2`, ix.name, n).Scan(&first, &p.Count, &changed)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.PageInfo{}, nil
	} else if err != nil {
		return store.PageInfo{}, err
	}
	p.First = uint64(first)
	if changed != 0 {
		p.Changed = nsTime(changed)
	}
	return p, nil
}

func (ix *memberIndex) putPage(p store.PageInfo) error {
	_, err := ix.q.Exec(ix.ctx, `INSERT INTO mpages (ix, n, first, count, changed) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (ix, n) DO UPDATE SET first = excluded.first, count = excluded.count, changed = excluded.changed`,
		ix.name, p.Number, int64(p.First), max(p.Count, 0), untilNS(p.Changed))
	return err
}

// touchPage adds delta to the count of the page covering seq and marks it
// changed at now.
func (ix *memberIndex) touchPage(seq uint64, delta int, now time.Time) error {
	n, err := ix.pageOf(seq)
	if err != nil || n == 0 {
		return err
	}
	p, err := ix.page(n)
	if err != nil {
		return err
	}
	p.Number = n
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

// unindexStory removes the story h (Seq seq), about to be deleted, from
// every index that holds it.
func unindexStory(ctx context.Context, tx pgx.Tx, h []byte, seq uint64, now time.Time) error {
	rows, err := tx.Query(ctx, `SELECT ix FROM members WHERE story = $1 ORDER BY ix`, h)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return err
	}
	for _, name := range names {
		ix, err := openIndex(ctx, tx, string(name), false, nil)
		if errors.Is(err, store.ErrNoIndex) {
			if _, err := tx.Exec(ctx, `DELETE FROM members WHERE ix = $1 AND story = $2`, name, h); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		if err := ix.remove(seq, now, false); err != nil {
			return err
		}
		if err := ix.save(); err != nil {
			return err
		}
	}
	return nil
}

// IndexState returns the state of index; ok is false when it does not
// exist.
func (db *DB) IndexState(ctx context.Context, index string) (store.IndexState, bool, error) {
	if err := read(ctx); err != nil {
		return store.IndexState{}, false, fmt.Errorf("index state %s: %w", index, err)
	}
	ix, err := openIndex(ctx, db.pool, index, false, nil)
	if errors.Is(err, store.ErrNoIndex) {
		return store.IndexState{}, false, nil
	} else if err != nil {
		return store.IndexState{}, false, fmt.Errorf("index state %s: %w", index, err)
	}
	return ix.state, true, nil
}

// Indexes returns the names of every membership index, bytewise.
func (db *DB) Indexes(ctx context.Context) ([]string, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("indexes: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT name FROM mindexes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("indexes: %w", err)
	}
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var b []byte
		err := r.Scan(&b)
		return string(b), err
	})
	if err != nil {
		return nil, fmt.Errorf("indexes: %w", err)
	}
	return names, nil
}

// DropIndex is store.Memberships.DropIndex, in writer transactions of at
// most dropBatch members.
func (db *DB) DropIndex(ctx context.Context, index string, touch bool) error {
	for {
		done := false
		err := db.write(ctx, "DropIndex", func(tx pgx.Tx) error {
			var r revs
			ix, err := openIndex(ctx, tx, index, false, &r)
			if errors.Is(err, store.ErrNoIndex) {
				done = true
				return nil
			} else if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT seq FROM members WHERE ix = $1 ORDER BY seq LIMIT $2`, ix.name, dropBatch)
			if err != nil {
				return err
			}
			seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if len(seqs) == 0 {
				done = true
				for _, sql := range []string{`DELETE FROM mindexes WHERE name = $1`, `DELETE FROM mpages WHERE ix = $1`, `DELETE FROM mwindows WHERE ix = $1`} {
					if _, err := tx.Exec(ctx, sql, ix.name); err != nil {
						return err
					}
				}
				return nil
			}
			for _, s := range seqs {
				if err := ix.remove(uint64(s), ix.state.Changed, touch); err != nil {
					return err
				}
			}
			if err := ix.save(); err != nil {
				return err
			}
			_, _, _, err = r.assign(ctx, tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("drop index %s: %w", index, err)
		}
		if done {
			return nil
		}
	}
}

// Window returns the Seqs a limited source holds in index.
func (db *DB) Window(ctx context.Context, index, sourceID string) ([]uint64, error) {
	var out []uint64
	err := db.view(ctx, func(tx pgx.Tx) error {
		if _, err := openIndex(ctx, tx, index, false, nil); err != nil {
			return err
		}
		var v []byte
		err := tx.QueryRow(ctx, `SELECT seqs FROM mwindows WHERE ix = $1 AND sh = $2`, []byte(index), srcHash(sourceID)).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		out = record.WindowSeqs(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("window %s %s: %w", index, sourceID, err)
	}
	return out, nil
}

// LookupMembers returns the members of index among seqs, in the order of
// seqs.
func (db *DB) LookupMembers(ctx context.Context, index string, seqs []uint64) ([]store.Member, error) {
	var out []store.Member
	err := db.view(ctx, func(tx pgx.Tx) error {
		if _, err := openIndex(ctx, tx, index, false, nil); err != nil {
			return err
		}
		ss := make([]int64, len(seqs))
		for i, s := range seqs {
			ss[i] = int64(s)
		}
		rows, err := tx.Query(ctx, `SELECT m.tk, m.until, m.src, m.key FROM unnest($2::bigint[]) WITH ORDINALITY AS q(seq, i)
			JOIN members m ON m.ix = $1 AND m.seq = q.seq ORDER BY q.i`, []byte(index), ss)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				tk, src, key []byte
				until        int64
			)
			if err := rows.Scan(&tk, &until, &src, &key); err != nil {
				return err
			}
			m, err := decodeMember(tk, until, src, key)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("lookup members %s: %w", index, err)
	}
	return out, nil
}

// MemberOf returns the names of the indexes the story src/key is in.
func (db *DB) MemberOf(ctx context.Context, src, key string) ([]string, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("member of %s %s: %w", src, key, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT ix FROM members WHERE story = $1 ORDER BY ix`, refHash(src, key))
	if err != nil {
		return nil, fmt.Errorf("member of %s %s: %w", src, key, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var b []byte
		err := r.Scan(&b)
		return string(b), err
	})
	if err != nil {
		return nil, fmt.Errorf("member of %s %s: %w", src, key, err)
	}
	return out, nil
}

// MemberSeqs returns up to limit Seqs of the members of index from from
// on, in order.
func (db *DB) MemberSeqs(ctx context.Context, index string, from uint64, limit int) ([]uint64, error) {
	var out []uint64
	err := db.view(ctx, func(tx pgx.Tx) error {
		if _, err := openIndex(ctx, tx, index, false, nil); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq FROM members WHERE ix = $1 AND seq >= $2 ORDER BY seq LIMIT $3`, []byte(index), int64(from), max(limit, 0))
		if err != nil {
			return err
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, s := range seqs {
			out = append(out, uint64(s))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("member seqs of %s: %w", index, err)
	}
	return out, nil
}

// scanMembers reads rows of members joined with their stories.
func scanMembers(rows pgx.Rows, sortFromStory bool) ([]store.Member, []feed.Item, error) {
	defer rows.Close()
	var (
		ms  []store.Member
		its []feed.Item
	)
	for rows.Next() {
		var (
			tk, src, key, body []byte
			until, seq, rev    int64
		)
		if err := rows.Scan(&tk, &until, &src, &key, &seq, &rev, &body); err != nil {
			return nil, nil, err
		}
		m, err := decodeMember(tk, until, src, key)
		if err != nil {
			return nil, nil, err
		}
		it, err := decodeItem(string(src), string(key), seq, rev, body)
		if err != nil {
			return nil, nil, fmt.Errorf("item %s/%q: %w", src, key, err)
		}
		if sortFromStory || m.Pin >= 0 {
			m.Sort = it.Sort()
		}
		ms, its = append(ms, m), append(its, it)
	}
	return ms, its, rows.Err()
}

// newestSQL reads members of an index in members_order, forward or
// backward, with their stories.
func newestSQL(cond, order string) string {
	return `SELECT m.tk, m.until, m.src, m.key, i.seq, i.rev, i.body
			FROM members m CROSS JOIN LATERAL (SELECT seq, rev, body FROM items WHERE items.h = m.story LIMIT 1) i
			WHERE m.ix = $1 AND ` + cond + ` ORDER BY m.tk ` + order + ` OFFSET $3 LIMIT $4`
}

// Newest is store.Memberships.Newest: a walk of members_order.
func (db *DB) Newest(ctx context.Context, index string, after *store.Member, skip, limit int, reverse bool) ([]store.Member, []feed.Item, error) {
	var (
		ms  []store.Member
		its []feed.Item
	)
	err := func() error {
		if err := read(ctx); err != nil {
			return err
		}
		tx := db.pool
		var from []byte
		if after != nil {
			m := *after
			if m.Pin < 0 {
				m.Pin = -1
			}
			from = record.MemberKey(m)
		}
		cond, order := `($2::bytea IS NULL OR m.tk > $2)`, `ASC`
		if reverse {
			cond, order = `($2::bytea IS NULL OR m.tk < $2)`, `DESC`
		}
		rows, err := tx.Query(ctx, newestSQL(cond, order),
			[]byte(index), from, max(skip, 0), max(limit, 0))
		if err != nil {
			return err
		}
		if ms, its, err = scanMembers(rows, false); err != nil || len(ms) > 0 {
			return err
		}
		_, err = openIndex(ctx, tx, index, false, nil) // none: is there an index?
		return err
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("members of %s: %w", index, err)
	}
	return ms, its, nil
}

// BySeq is store.Memberships.BySeq.
func (db *DB) BySeq(ctx context.Context, index string, from, to uint64, limit int) ([]store.Member, []feed.Item, error) {
	var (
		ms  []store.Member
		its []feed.Item
	)
	err := func() error {
		if err := read(ctx); err != nil {
			return err
		}
		tx := db.pool
		rows, err := tx.Query(ctx, `SELECT m.tk, m.until, m.src, m.key, i.seq, i.rev, i.body
			FROM members m CROSS JOIN LATERAL (SELECT seq, rev, body FROM items WHERE items.h = m.story LIMIT 1) i
			WHERE m.ix = $1 AND m.seq >= $2 AND ($3 = 0 OR m.seq < $3) ORDER BY m.seq LIMIT $4`,
			[]byte(index), int64(from), int64(to), max(limit, 0))
		if err != nil {
			return err
		}
		if ms, its, err = scanMembers(rows, true); err != nil || len(ms) > 0 {
			return err
		}
		_, err = openIndex(ctx, tx, index, false, nil) // none: is there an index?
		return err
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("members of %s by seq: %w", index, err)
	}
	return ms, its, nil
}

// IndexPage returns archive page n of index, or a feed.ENOTFOUND error.
func (db *DB) IndexPage(ctx context.Context, index string, n int) (store.PageInfo, error) {
	var p store.PageInfo
	err := db.view(ctx, func(tx pgx.Tx) error {
		ix, err := openIndex(ctx, tx, index, false, nil)
		if errors.Is(err, store.ErrNoIndex) {
			return feed.Errorf(feed.ENOTFOUND, "no membership index %q", index)
		} else if err != nil {
			return err
		}
		if n < 1 || n > ix.state.Pages {
			return feed.Errorf(feed.ENOTFOUND, "no archive page %d", n)
		}
		if p, err = ix.page(n); err != nil {
			return err
		}
		p.Number = n
		if n == 1 {
			p.First = 0 // page 1 covers every Seq before the second page's first
		}
		if n < ix.state.Pages {
			next, err := ix.page(n + 1)
			if err != nil {
				return err
			}
			p.Next = next.First
		}
		return nil
	})
	if err != nil {
		return store.PageInfo{}, fmt.Errorf("index %s page %d: %w", index, n, err)
	}
	return p, nil
}

// TouchSeqs is store.Memberships.TouchSeqs, in one writer transaction.
func (db *DB) TouchSeqs(ctx context.Context, seqs []uint64, seen uint64) (first, last uint64, unseen []uint64, err error) {
	err = db.write(ctx, "TouchSeqs", func(tx pgx.Tx) error {
		unseen = nil
		ss := make([]int64, len(seqs))
		for i, s := range seqs {
			ss[i] = int64(s)
		}
		rows, err := tx.Query(ctx, `SELECT i.h, i.rev FROM unnest($1::bigint[]) WITH ORDINALITY AS q(seq, n)
			JOIN items i ON i.seq = q.seq ORDER BY q.n`, ss)
		if err != nil {
			return err
		}
		type touched struct {
			h   []byte
			old int64
		}
		ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (touched, error) {
			var t touched
			err := r.Scan(&t.h, &t.old)
			return t, err
		})
		if err != nil {
			return err
		}
		var r revs
		for _, t := range ts {
			r.item(t.h)
		}
		var given map[string]uint64
		if first, last, given, err = r.assign(ctx, tx); err != nil {
			return err
		}
		done := map[string]bool{}
		for _, t := range ts {
			if uint64(t.old) > seen && !done[string(t.h)] {
				done[string(t.h)] = true
				unseen = append(unseen, given[string(t.h)])
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("touch: %w", err)
	}
	return first, last, unseen, nil
}

// ExpireMembers is store.Memberships.ExpireMembers, in writer
// transactions of at most dropBatch members.
func (db *DB) ExpireMembers(ctx context.Context, index string, now time.Time, touch bool) (int, error) {
	total := 0
	for {
		n := 0
		err := db.write(ctx, "ExpireMembers", func(tx pgx.Tx) error {
			n = 0
			var r revs
			ix, err := openIndex(ctx, tx, index, false, &r)
			if errors.Is(err, store.ErrNoIndex) {
				return nil
			} else if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT seq, until FROM members WHERE ix = $1 AND until <> 0 AND until <= $2 ORDER BY tk LIMIT $3`,
				ix.name, now.UnixNano(), dropBatch)
			if err != nil {
				return err
			}
			type doomedMember struct{ seq, until int64 }
			doomed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (doomedMember, error) {
				var d doomedMember
				err := r.Scan(&d.seq, &d.until)
				return d, err
			})
			if err != nil {
				return err
			}
			for _, d := range doomed {
				if err := ix.remove(uint64(d.seq), nsTime(d.until), touch); err != nil {
					return err
				}
			}
			n = len(doomed)
			if n == 0 {
				return nil
			}
			if err := ix.save(); err != nil {
				return err
			}
			_, _, _, err = r.assign(ctx, tx)
			return err
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
