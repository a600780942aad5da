package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// Upstream ids. A published document must not list one entry id twice, and
// every stored item must be published: when two stored items carry one
// upstream id (a CMS that writes its home page as every item's GUID, two
// sources with one GUID for two stories), the first to be stored keeps it
// and the others are marked feed.Item.IDShared, so that outputs publish
// them under an id derived from their source and key. The first is found
// in
//
//	ids / <upstream id, as stored> → ref of the item that carried it first
//
// The mark is decided when an item is first stored, or stored with another
// id, and never changes afterwards, so a published id never changes from
// one render, restart or instance to the next.

var bucketIDs = []byte("ids")

// claim records, when d says so, that d.Item claims its upstream id.
func claim(tx *bbolt.Tx, d story.Decision) error {
	if !d.Claim {
		return nil
	}
	return putClaim(tx, d.Item)
}

func putClaim(tx *bbolt.Tx, it feed.Item) error {
	b, err := tx.CreateBucketIfNotExists(bucketIDs)
	if err != nil {
		return err
	}
	return b.Put([]byte(it.ID), story.Ref{SourceID: it.SourceID, Key: it.Key}.Bytes())
}

// initIDs creates the ids bucket in a file written before it existed, and
// makes the claims the items stored so far would have made: in the order
// they were first stored (byseq), each item claims its id or, when an
// earlier one has it, is marked IDShared.
func (db *DB) initIDs(ctx context.Context) error {
	var exists bool
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketIDs) != nil
		return nil
	}); err != nil || exists || db.bolt.IsReadOnly() {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucket(bucketIDs); err != nil {
			return err
		}
		seq := tx.Bucket(bucketBySeq)
		if seq == nil {
			return nil
		}
		items := tx.Bucket(bucketItems)
		l := newLookup(tx)
		c := seq.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			src, key, ok := cutRef(v)
			if !ok {
				return fmt.Errorf("byseq %d: bad item reference %s", binary.BigEndian.Uint64(k), clip(v))
			}
			src, key = bytes.Clone(src), bytes.Clone(key) // kept past the writes below
			ib := items.Bucket(src)
			if ib == nil {
				continue
			}
			raw := ib.Get(key)
			if raw == nil {
				continue // pruned
			}
			it, err := decodeItem(string(src), string(key), raw)
			if err != nil {
				return fmt.Errorf("source %s item %s: %w", clip(src), clip(key), err)
			}
			if it.ID == "" {
				continue
			}
			claimed, err := story.Claim(&it, l)
			if err != nil {
				return err
			}
			if claimed {
				if err := putClaim(tx, it); err != nil {
					return err
				}
			}
			if !it.IDShared {
				continue
			}
			enc, err := encodeItem(it)
			if err != nil {
				return err
			}
			if err := ib.Put(key, enc); err != nil {
				return err
			}
		}
		return nil
	})
}
