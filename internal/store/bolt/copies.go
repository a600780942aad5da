package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/store"
)

// The reads aggregator migrate needs (store.Copies). A bbolt file is not
// a store.Importer: to copy one, copy the file (aggregator backup).

// Aliases returns sourceID's alias keys, ordered by key.
func (db *DB) Aliases(ctx context.Context, sourceID string) ([]store.Alias, error) {
	var out []store.Alias
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		top := tx.Bucket(bucketAliases)
		if top == nil {
			return nil
		}
		ab := top.Bucket([]byte(sourceID))
		if ab == nil {
			return nil
		}
		return ab.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil
			}
			a, err := decodeAlias(k, v)
			if err != nil {
				return err
			}
			out = append(out, store.Alias{SourceID: sourceID, Key: string(k), StorySource: a.SourceID, StoryKey: a.Key, Rule: a.Rule, Seen: a.Seen})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("aliases %s: %w", sourceID, err)
	}
	return out, nil
}

// PrunedKeys returns sourceID's tombstones, ordered by key.
func (db *DB) PrunedKeys(ctx context.Context, sourceID string) ([]store.Tombstone, error) {
	var out []store.Tombstone
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		gb := tombstones(tx, []byte(sourceID))
		if gb == nil {
			return nil
		}
		return gb.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil
			}
			if len(v) != 8 {
				return fmt.Errorf("tombstone %s: %d bytes", clip(k), len(v))
			}
			at := time.Unix(int64(binary.BigEndian.Uint64(v)), 0).UTC()
			out = append(out, store.Tombstone{SourceID: sourceID, Key: string(k), At: at})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pruned keys %s: %w", sourceID, err)
	}
	return out, nil
}

// LastSeq returns the highest Seq given (byseq's counter).
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketBySeq); b != nil {
			n = b.Sequence()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return n, nil
}
