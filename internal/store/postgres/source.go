package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// SaveState stores state alone; Items is the store's count, read back by
// State.
func (db *DB) SaveState(ctx context.Context, state feed.SourceState) error {
	if err := store.CheckSourceID(state.SourceID, ""); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	v, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	err = db.exec(ctx, `INSERT INTO sources (h, id, state) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET state = excluded.state`,
		srcHash(state.SourceID), []byte(state.SourceID), v)
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	return nil
}

// SaveStateSoon implements store.Sources: SaveState's statement in a
// transaction that does not wait for its WAL to reach the disk
// (synchronous_commit off, that transaction only): every session reads it
// at once, and a crash of the server within its WAL writer's delay (three
// times wal_writer_delay at worst, 600 ms by default) may lose it.
func (db *DB) SaveStateSoon(ctx context.Context, state feed.SourceState) error {
	if err := store.CheckSourceID(state.SourceID, ""); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	v, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	err = db.exec(ctx, `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		INSERT INTO sources (h, id, state) SELECT $1, $2, $3 FROM async
		ON CONFLICT (h) DO UPDATE SET state = excluded.state`,
		srcHash(state.SourceID), []byte(state.SourceID), v)
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	return nil
}

// MarkParsing records that a parse of sourceID began at at: one
// statement, which reads the saved state and writes it back with Parsing
// set, inside the server.
func (db *DB) MarkParsing(ctx context.Context, sourceID string, at time.Time) error {
	if err := store.CheckSourceID(sourceID, ""); err != nil {
		return fmt.Errorf("mark parsing: %w", err)
	}
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if db.readOnly {
			return store.ErrReadOnly
		}
		h := srcHash(sourceID)
		var (
			raw []byte
			n   int64
		)
		err := tx.QueryRow(ctx, `SELECT state, own + merged FROM sources WHERE h = $1 FOR UPDATE`, h).Scan(&raw, &n)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		st := feed.SourceState{SourceID: sourceID}
		if raw != nil {
			if st, err = decodeState(sourceID, n, raw); err != nil {
				return fmt.Errorf("state: %w", err)
			}
		}
		st.Parsing = at
		v, err := encodeState(st)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sources (h, id, state) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET state = excluded.state`,
			h, []byte(sourceID), v)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark parsing %s: %w", sourceID, classify(err))
	}
	return nil
}

// State returns the saved state of sourceID, or a feed.ENOTFOUND error.
func (db *DB) State(ctx context.Context, sourceID string) (feed.SourceState, error) {
	if err := read(ctx); err != nil {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, err)
	}
	var (
		raw []byte
		n   int64
	)
	err := db.pool.QueryRow(ctx, `SELECT state, own + merged FROM sources WHERE h = $1`, srcHash(sourceID)).Scan(&raw, &n)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && raw == nil) {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, feed.Errorf(feed.ENOTFOUND, "source %q has no saved state", sourceID))
	} else if err != nil {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, err)
	}
	st, err := decodeState(sourceID, n, raw)
	if err != nil {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, err)
	}
	return st, nil
}

// States returns every saved state, ordered by source id (bytewise).
func (db *DB) States(ctx context.Context) ([]feed.SourceState, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT id, state, own + merged FROM sources WHERE state IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	defer rows.Close()
	var out []feed.SourceState
	for rows.Next() {
		var (
			id, raw []byte
			n       int64
		)
		if err := rows.Scan(&id, &raw, &n); err != nil {
			return nil, fmt.Errorf("states: %w", err)
		}
		st, err := decodeState(string(id), n, raw)
		if err != nil {
			return nil, fmt.Errorf("states: source %q: %w", id, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	return out, nil
}
