package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// revs collects what one writer transaction writes in the write order, in
// order: items (by hash) and deleted items. assign gives them their Rev
// numbers at the end of the transaction, under the writer lock, so that
// numbers follow commits (see the package doc).
type revs struct {
	entries []revEntry
	at      map[string]int // item hash → its entry; an item written twice keeps its last place
}

type revEntry struct {
	h        []byte // an item; nil for a gone entry
	src, key string // a gone entry
	dead     bool   // superseded by a later entry of the same item
}

func (r *revs) item(h []byte) {
	if r.at == nil {
		r.at = map[string]int{}
	}
	if i, ok := r.at[string(h)]; ok {
		r.entries[i].dead = true
	}
	r.at[string(h)] = len(r.entries)
	r.entries = append(r.entries, revEntry{h: h})
}

// gone records the deletion of src/key (its item entry, if any, goes).
func (r *revs) gone(h []byte, src, key string) {
	if i, ok := r.at[string(h)]; ok {
		r.entries[i].dead = true
		delete(r.at, string(h))
	}
	r.entries = append(r.entries, revEntry{src: src, key: key})
}

// assign advances the rev counter by the number of entries and writes
// their numbers; it returns the first and last number given (zeros when
// none) and each item's number.
func (r *revs) assign(ctx context.Context, tx pgx.Tx) (first, last uint64, given map[string]uint64, err error) {
	n := 0
	for _, e := range r.entries {
		if !e.dead {
			n++
		}
	}
	if n == 0 {
		return 0, 0, nil, nil
	}
	var top int64
	if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + $1 WHERE name = 'rev' RETURNING value`, n).Scan(&top); err != nil {
		return 0, 0, nil, err
	}
	rev := top - int64(n)
	var (
		ih          [][]byte
		ir, gr      []int64
		gsrc, gkeys [][]byte
	)
	given = map[string]uint64{}
	for _, e := range r.entries {
		if e.dead {
			continue
		}
		rev++
		if e.h != nil {
			ih, ir = append(ih, e.h), append(ir, rev)
			given[string(e.h)] = uint64(rev)
		} else {
			gr, gsrc, gkeys = append(gr, rev), append(gsrc, []byte(e.src)), append(gkeys, []byte(e.key))
		}
	}
	if len(ih) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE items SET rev = u.r FROM unnest($1::bytea[], $2::bigint[]) AS u(h, r) WHERE items.h = u.h`, ih, ir); err != nil {
			return 0, 0, nil, err
		}
	}
	if len(gr) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO gone (rev, src, key) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`, gr, gsrc, gkeys); err != nil {
			return 0, 0, nil, err
		}
	}
	r.entries, r.at = nil, nil
	return uint64(top-int64(n)) + 1, uint64(top), given, nil
}

// ItemsSince is store.WriteOrder.ItemsSince.
func (db *DB) ItemsSince(ctx context.Context, rev uint64, limit int) ([]feed.Item, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("items since %d: %w", rev, err)
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `(SELECT rev, src, key, seq, body FROM items WHERE rev > $1 ORDER BY rev LIMIT $2)
		UNION ALL (SELECT rev, src, key, 0, NULL FROM gone WHERE rev > $1 ORDER BY rev LIMIT $2)
		ORDER BY rev LIMIT $2`, int64(rev), limit)
	if err != nil {
		return nil, fmt.Errorf("items since %d: %w", rev, err)
	}
	defer rows.Close()
	var out []feed.Item
	for rows.Next() {
		var (
			r, seq        int64
			src, key, raw []byte
		)
		if err := rows.Scan(&r, &src, &key, &seq, &raw); err != nil {
			return nil, fmt.Errorf("items since %d: %w", rev, err)
		}
		if raw == nil {
			out = append(out, feed.Item{SourceID: string(src), Key: string(key), Rev: uint64(r)})
			continue
		}
		it, err := decodeItem(string(src), string(key), seq, r, raw)
		if err != nil {
			return nil, fmt.Errorf("items since %d: item %s/%q: %w", rev, src, key, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("items since %d: %w", rev, err)
	}
	return out, nil
}

func (db *DB) counter(ctx context.Context, name string) (uint64, error) {
	if err := read(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT value FROM counters WHERE name = $1`, name).Scan(&n)
	return uint64(n), err
}

// LastRev returns the Rev of the latest committed write; 0 for an empty
// store.
func (db *DB) LastRev(ctx context.Context) (uint64, error) {
	n, err := db.counter(ctx, "rev")
	if err != nil {
		return 0, fmt.Errorf("last rev: %w", err)
	}
	return n, nil
}

// TrimGone is store.WriteOrder.TrimGone.
func (db *DB) TrimGone(ctx context.Context, upTo uint64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("trim gone: %w", err)
	}
	if db.readOnly {
		return 0, fmt.Errorf("trim gone: %w", store.ErrReadOnly)
	}
	sctx, cancel := sent(ctx)
	defer cancel()
	tag, err := db.pool.Exec(sctx, `DELETE FROM gone WHERE rev IN (SELECT rev FROM gone WHERE rev <= $1 ORDER BY rev LIMIT $2)`,
		int64(upTo), store.PruneBatch*10)
	if err != nil {
		return 0, fmt.Errorf("trim gone: %w", classify(err))
	}
	return int(tag.RowsAffected()), nil
}

// IndexedRev returns the last Rev recorded with SetIndexedRev.
func (db *DB) IndexedRev(ctx context.Context) (uint64, error) {
	n, err := db.counter(ctx, "indexed_rev")
	if err != nil {
		return 0, fmt.Errorf("indexed rev: %w", err)
	}
	return n, nil
}

// SetIndexedRev records rev as the last Rev the search index holds.
func (db *DB) SetIndexedRev(ctx context.Context, rev uint64) error {
	if err := db.exec(ctx, `UPDATE counters SET value = $1 WHERE name = 'indexed_rev'`, int64(rev)); err != nil {
		return fmt.Errorf("set indexed rev: %w", err)
	}
	return nil
}
