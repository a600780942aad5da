package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// The reads aggregator migrate needs (store.Copies), and Import
// (store.Importer), which fills an empty store from another's records.

var _ store.Importer = (*DB)(nil)

// Aliases returns sourceID's alias keys, ordered by key.
func (db *DB) Aliases(ctx context.Context, sourceID string) ([]store.Alias, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("aliases %s: %w", sourceID, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT key, body FROM aliases WHERE src = $1 ORDER BY key`, []byte(sourceID))
	if err != nil {
		return nil, fmt.Errorf("aliases %s: %w", sourceID, err)
	}
	var out []store.Alias
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("aliases %s: %w", sourceID, err)
		}
		a, err := decodeAlias(v)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("aliases %s: alias %q: %w", sourceID, k, err)
		}
		out = append(out, store.Alias{SourceID: sourceID, Key: string(k), StorySource: a.SourceID, StoryKey: a.Key, Rule: a.Rule, Seen: a.Seen})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("aliases %s: %w", sourceID, err)
	}
	return out, nil
}

// PrunedKeys returns sourceID's tombstones, ordered by key.
func (db *DB) PrunedKeys(ctx context.Context, sourceID string) ([]store.Tombstone, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("pruned keys %s: %w", sourceID, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT key, at FROM tombstones WHERE sh = $1 ORDER BY key`, srcHash(sourceID))
	if err != nil {
		return nil, fmt.Errorf("pruned keys %s: %w", sourceID, err)
	}
	var out []store.Tombstone
	for rows.Next() {
		var k []byte
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pruned keys %s: %w", sourceID, err)
		}
		out = append(out, store.Tombstone{SourceID: sourceID, Key: string(k), At: time.Unix(at, 0).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pruned keys %s: %w", sourceID, err)
	}
	return out, nil
}

// LastSeq returns the highest Seq the sequence gave.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	if err := read(ctx); err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM item_seq`).Scan(&n); err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return uint64(n), nil
}

// Import is store.Importer.Import: one writer transaction, its statements
// sent in one batch.
func (db *DB) Import(ctx context.Context, c store.Copy) error {
	err := db.write(ctx, "Import", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, s := range c.States {
			if err := store.CheckSourceID(s.SourceID, s.SourceID); err != nil {
				return err
			}
			v, err := encodeState(s)
			if err != nil {
				return fmt.Errorf("state %q: %w", s.SourceID, err)
			}
			b.Queue(`INSERT INTO sources (h, id, state) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET state = excluded.state`,
				srcHash(s.SourceID), []byte(s.SourceID), v)
		}
		trust, err := db.trusted(ctx, tx, c)
		if err != nil {
			return err
		}
		own, tombs := map[string]int64{}, map[string]bool{}
		for _, it := range c.Items {
			if it.Seq == 0 {
				b.Queue(`INSERT INTO gone (rev, src, key) VALUES ($1, $2, $3)`, int64(it.Rev), []byte(it.SourceID), []byte(it.Key))
				continue
			}
			if err := importStory(b, it, trust); err != nil {
				return fmt.Errorf("item %q/%q: %w", it.SourceID, it.Key, err)
			}
			own[it.SourceID]++
		}
		for src, n := range own {
			b.Queue(`INSERT INTO sources (h, id, own) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET own = sources.own + excluded.own`,
				srcHash(src), []byte(src), n)
		}
		for src, n := range c.ItemCounts {
			b.Queue(`INSERT INTO sources (h, id, merged) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET merged = greatest($3 - sources.own, 0)`,
				srcHash(src), []byte(src), int64(n))
		}
		for _, a := range c.Aliases {
			v, err := marshal(aliasRecord{Source: a.StorySource, Key: a.StoryKey, Rule: a.Rule, Seen: story.Time(a.Seen)})
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO aliases (h, src, key, kh, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (h) DO UPDATE SET body = excluded.body`,
				refHash(a.SourceID, a.Key), []byte(a.SourceID), []byte(a.Key), keyHash(a.Key), v)
		}
		for _, t := range c.Tombstones {
			b.Queue(`INSERT INTO tombstones (h, sh, key, at) VALUES ($1, $2, $3, $4) ON CONFLICT (h) DO UPDATE SET at = excluded.at`,
				refHash(t.SourceID, t.Key), srcHash(t.SourceID), []byte(t.Key), story.Time(t.At).Unix())
			tombs[t.SourceID] = true
		}
		for src := range tombs {
			b.Queue(`INSERT INTO sources (h, id, tombs) VALUES ($1, $2, (SELECT count(*) FROM tombstones WHERE sh = $1))
				ON CONFLICT (h) DO UPDATE SET tombs = excluded.tombs`, srcHash(src), []byte(src))
		}
		if c.LastRev > 0 {
			b.Queue(`UPDATE counters SET value = greatest(value, $1) WHERE name = 'rev'`, int64(c.LastRev))
		}
		if c.LastSeq > 0 {
			b.Queue(`SELECT setval('item_seq', greatest($1, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM item_seq)))`, int64(c.LastSeq))
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// trusted says, for every source of c's stories and their copies, whether
// its links identify its items (feed.LinksIdentify of its saved state):
// the link index holds only those, as SavePoll files them.
func (db *DB) trusted(ctx context.Context, tx pgx.Tx, c store.Copy) (map[string]bool, error) {
	trust := map[string]bool{}
	for _, s := range c.States {
		trust[s.SourceID] = feed.LinksIdentify(s.Identity)
	}
	for _, it := range c.Items {
		for _, src := range append([]string{it.SourceID}, originSources(it)...) {
			if _, ok := trust[src]; ok || it.Seq == 0 {
				continue
			}
			var v []byte
			err := tx.QueryRow(ctx, `SELECT state FROM sources WHERE h = $1`, srcHash(src)).Scan(&v)
			switch {
			case errors.Is(err, pgx.ErrNoRows) || err == nil && v == nil:
				trust[src] = false
			case err != nil:
				return nil, err
			default:
				s, err := decodeState(src, 0, v)
				if err != nil {
					return nil, fmt.Errorf("state %q: %w", src, err)
				}
				trust[src] = feed.LinksIdentify(s.Identity)
			}
		}
	}
	return trust, nil
}

func originSources(it feed.Item) []string {
	var out []string
	for _, o := range it.Origins {
		out = append(out, o.SourceID)
	}
	return out
}

// copiesOf returns the origins of it that are other sources' copies (its
// own source comes first among its origins).
func copiesOf(it feed.Item) []feed.Origin {
	var out []feed.Origin
	for _, o := range it.Origins {
		if o.SourceID != it.SourceID || o.Key != it.Key {
			out = append(out, o)
		}
	}
	return out
}

// importStory queues the rows of one story: the item, its positions (its
// own, its copies' at its sort time), its link, title and id entries
// (the first by Seq wins: stories come in Seq order).
func importStory(b *pgx.Batch, it feed.Item, trust map[string]bool) error {
	if err := store.CheckSourceID(it.SourceID, it.SourceID); err != nil {
		return err
	}
	h := refHash(it.SourceID, it.Key)
	rev := it.Rev
	body, err := encodeItem(it)
	if err != nil {
		return err
	}
	ref := story.Ref{SourceID: it.SourceID, Key: it.Key}.Bytes()
	ns := record.SortNS(it.Sort())
	b.Queue(`INSERT INTO items (h, src, key, kh, seq, rev, body) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		h, []byte(it.SourceID), []byte(it.Key), keyHash(it.Key), int64(it.Seq), int64(rev), body)
	position := `INSERT INTO positions (sh, ns, key, kh, story) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (sh, ns, kh) DO UPDATE SET story = excluded.story`
	b.Queue(position, srcHash(it.SourceID), ns, []byte(it.Key), keyHash(it.Key), h)
	link := func(src, l string) {
		if l == "" || !trust[src] {
			return
		}
		if lk := feed.LinkKey(l); len(lk) <= story.MaxLinkKey {
			b.Queue(`INSERT INTO links (h, story, ref) VALUES ($1, $2, $3) ON CONFLICT (h) DO NOTHING`, hashOf(lk), h, ref)
		}
	}
	link(it.SourceID, it.Link)
	for _, o := range copiesOf(it) {
		b.Queue(position, srcHash(o.SourceID), ns, []byte(o.Key), keyHash(o.Key), h)
		link(o.SourceID, o.Link)
	}
	if t := canon.Title(it.Title); t != "" {
		b.Queue(`INSERT INTO titles (th, ns, story, ref) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, hashOf(t), ns, h, ref)
	}
	if it.ID != "" && !it.IDShared && len(it.ID) <= story.MaxClaimedID {
		b.Queue(`INSERT INTO ids (h, story, ref) VALUES ($1, $2, $3) ON CONFLICT (h) DO NOTHING`, hashOf(it.ID), h, ref)
	}
	return nil
}
