package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// SaveState stores state alone, as after a 304 Not Modified or a failed
// poll. The store owns state.Items: it is set to the number of items the
// source delivered (see SourceItemCount), whatever the caller passed. An empty SourceID is a
// feed.EINVALID error.
func (db *DB) SaveState(ctx context.Context, state feed.SourceState) error {
	if err := store.CheckSourceID(state.SourceID, ""); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		state.Items = int(sourceCount(tx, state.SourceID))
		return putState(tx, state)
	})
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	return nil
}

// MarkParsing records on sourceID's saved state that a parse of a new body
// began at at (feed.SourceState.Parsing), creating the state when there is
// none. The marks of polls in flight at once share one write transaction
// (bbolt's Batch, which waits up to 10 ms for company), so marking costs
// a fraction of a commit per changed poll. An empty sourceID is a
// feed.EINVALID error.
func (db *DB) MarkParsing(ctx context.Context, sourceID string, at time.Time) error {
	if err := store.CheckSourceID(sourceID, ""); err != nil {
		return fmt.Errorf("mark parsing: %w", err)
	}
	err := db.batch(ctx, func(tx *bbolt.Tx) error {
		st := feed.SourceState{SourceID: sourceID}
		if v := tx.Bucket(bucketSources).Get([]byte(sourceID)); v != nil {
			var err error
			if st, err = decodeState(sourceID, v); err != nil {
				return fmt.Errorf("state: %w", err)
			}
		}
		st.Parsing = at
		st.Items = int(sourceCount(tx, sourceID))
		return putState(tx, st)
	})
	if err != nil {
		return fmt.Errorf("mark parsing %s: %w", sourceID, err)
	}
	return nil
}

func putState(tx *bbolt.Tx, state feed.SourceState) error {
	v, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return tx.Bucket(bucketSources).Put([]byte(state.SourceID), v)
}

// State returns the saved state of sourceID, or a feed.ENOTFOUND error when
// none was ever saved.
func (db *DB) State(ctx context.Context, sourceID string) (feed.SourceState, error) {
	var s feed.SourceState
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSources).Get([]byte(sourceID))
		if v == nil {
			return feed.Errorf(feed.ENOTFOUND, "source %q has no saved state", sourceID)
		}
		var err error
		s, err = decodeState(sourceID, v)
		return err
	})
	if err != nil {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, err)
	}
	return s, nil
}

// States returns every saved state, ordered by source id.
func (db *DB) States(ctx context.Context) ([]feed.SourceState, error) {
	var out []feed.SourceState
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSources).ForEach(func(k, v []byte) error {
			s, err := decodeState(string(k), v)
			if err != nil {
				return fmt.Errorf("source %s: %w", clip(k), err)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	return out, nil
}
