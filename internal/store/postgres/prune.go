package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// Prune is store.Maintenance.Prune: batches of at most store.PruneBatch
// deletions, each a writer transaction.
func (db *DB) Prune(ctx context.Context, sourceID string, keep feed.Retention, now time.Time) (store.PruneResult, error) {
	var res store.PruneResult
	if story.Keeps(keep) {
		return res, nil
	}
	for {
		n, err := db.pruneBatch(ctx, sourceID, keep, now)
		if err != nil {
			return res, fmt.Errorf("prune %s: %w", sourceID, err)
		}
		if n > 0 {
			res.Batches++
		}
		res.Items += n
		if n < store.PruneBatch {
			break
		}
	}
	n, err := db.trimTombstones(ctx, sourceID)
	if err != nil {
		return res, fmt.Errorf("prune %s: %w", sourceID, err)
	}
	res.Tombstones = n
	return res, nil
}

type doomed struct {
	ns    int64
	key   string
	story []byte
}

// pruneBatch deletes up to store.PruneBatch of the source's positions,
// oldest first, that the retention does not keep.
func (db *DB) pruneBatch(ctx context.Context, sourceID string, keep feed.Retention, now time.Time) (int, error) {
	deleted := 0
	stamp := story.Time(now).Unix()
	sh := srcHash(sourceID)
	err := db.write(ctx, "Prune", func(tx pgx.Tx) error {
		deleted = 0
		var own int64
		if err := tx.QueryRow(ctx, `SELECT own FROM sources WHERE h = $1`, sh).Scan(&own); err != nil {
			if err == pgx.ErrNoRows {
				return nil
			}
			return err
		}
		retain := story.Retain(keep, int(own), now)
		rows, err := tx.Query(ctx, `SELECT ns, key, story FROM positions WHERE sh = $1
			ORDER BY ns, key DESC LIMIT $2`, sh, store.PruneBatch)
		if err != nil {
			return err
		}
		var walk []doomed
		for rows.Next() {
			var (
				d   doomed
				key []byte
			)
			if err := rows.Scan(&d.ns, &key, &d.story); err != nil {
				rows.Close()
				return err
			}
			d.key = string(key)
			walk = append(walk, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var r revs
		removed := 0
		for i, d := range walk {
			if !retain.Deletes(i, nsTime(d.ns)) {
				break
			}
			was, err := deleteStory(ctx, tx, &r, sourceID, d.key, story.Time(now))
			if err != nil {
				return fmt.Errorf("item %q: %w", d.key, err)
			}
			if was {
				removed++
			}
			if _, err := tx.Exec(ctx, `DELETE FROM positions WHERE sh = $1 AND ns = $2 AND kh = $3`, sh, d.ns, keyHash(d.key)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO tombstones (h, sh, key, at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (h) DO UPDATE SET at = excluded.at`, refHash(sourceID, d.key), sh, []byte(d.key), stamp)
			if err != nil {
				return err
			}
			deleted++
		}
		if deleted == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE sources SET own = greatest(own - $2, 0),
			tombs = (SELECT count(*) FROM tombstones WHERE sh = $1) WHERE h = $1`, sh, removed); err != nil {
			return err
		}
		_, _, _, err = r.assign(ctx, tx)
		return err
	})
	return deleted, err
}

// deleteStory deletes the source's own item key, if stored: it goes to
// the write order as gone, out of every membership index, and what
// story.Forget says is unrecorded. It reports whether there was one.
func deleteStory(ctx context.Context, tx pgx.Tx, r *revs, src, key string, now time.Time) (bool, error) {
	it, ok, err := loadItem(ctx, tx, src, key)
	if err != nil || !ok {
		return false, err
	}
	h := refHash(src, key)
	r.gone(h, src, key)
	if err := unindexStory(ctx, tx, h, it.Seq, now); err != nil {
		return false, err
	}
	u := story.Forget(it)
	for _, l := range u.Links {
		if _, err := tx.Exec(ctx, `DELETE FROM links WHERE h = $1 AND story = $2`, hashOf(l), h); err != nil {
			return false, err
		}
	}
	ns := record.SortNS(it.Sort())
	if u.Title != "" {
		if _, err := tx.Exec(ctx, `DELETE FROM titles WHERE th = $1 AND ns = $2 AND story = $3`, hashOf(u.Title), ns, h); err != nil {
			return false, err
		}
	}
	for _, c := range u.Copies {
		if _, err := tx.Exec(ctx, `DELETE FROM positions WHERE sh = $1 AND ns = $2 AND kh = $3`, srcHash(c.SourceID), ns, keyHash(c.Key)); err != nil {
			return false, err
		}
	}
	if u.ID != "" {
		if _, err := tx.Exec(ctx, `DELETE FROM ids WHERE h = $1 AND story = $2`, hashOf(u.ID), h); err != nil {
			return false, err
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM items WHERE h = $1`, h)
	return err == nil, err
}

// trimTombstones keeps the source's store.MaxTombstones newest
// tombstones.
func (db *DB) trimTombstones(ctx context.Context, sourceID string) (int, error) {
	dropped := 0
	sh := srcHash(sourceID)
	err := db.write(ctx, "Prune", func(tx pgx.Tx) error {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT tombs FROM sources WHERE h = $1`, sh).Scan(&n); err != nil {
			if err == pgx.ErrNoRows {
				return nil
			}
			return err
		}
		if n <= store.MaxTombstones {
			return nil
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tombstones WHERE h IN (
			SELECT h FROM tombstones WHERE sh = $1 ORDER BY at, key LIMIT $2)`, sh, n-store.MaxTombstones)
		if err != nil {
			return err
		}
		dropped = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `UPDATE sources SET tombs = tombs - $2 WHERE h = $1`, sh, dropped)
		return err
	})
	return dropped, err
}

// Tombstones returns how many pruned keys of sourceID are remembered.
func (db *DB) Tombstones(ctx context.Context, sourceID string) (int, error) {
	if err := read(ctx); err != nil {
		return 0, fmt.Errorf("tombstones %s: %w", sourceID, err)
	}
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT tombs FROM sources WHERE h = $1`, srcHash(sourceID)).Scan(&n)
	if err != nil && err != pgx.ErrNoRows {
		return 0, fmt.Errorf("tombstones %s: %w", sourceID, err)
	}
	return int(n), nil
}
