package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// Subscriber statistics, one bucket per channel, its keys sorted by day
// then instance:
//
//	stats / <channel id> / "2006-01-02"                  → the day's settled part (record.EncodeSubscriberPart)
//	stats / <channel id> / "2006-01-02" 0x00 <instance>  → an instance's part
//
// A file written before parts existed holds only the first form, with the
// four counts: it reads as the settled days it was.
var bucketStats = []byte("stats")

// statsKey is the key of part's day and instance.
func statsKey(day, instance string) []byte {
	if instance == "" {
		return []byte(day)
	}
	return []byte(day + "\x00" + instance)
}

// SaveSubscriberParts is store.SubscriberStats.SaveSubscriberParts.
func (db *DB) SaveSubscriberParts(ctx context.Context, parts []store.SubscriberPart) error {
	vs := make([][]byte, len(parts))
	for i, p := range parts {
		if err := store.CheckSubscriberPart(p, bbolt.MaxKeySize); err != nil {
			return fmt.Errorf("save subscriber parts: %w", err)
		}
		v, err := record.EncodeSubscriberPart(p)
		if err != nil {
			return fmt.Errorf("save subscriber parts: %w", err)
		}
		vs[i] = v
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		sb, err := tx.CreateBucketIfNotExists(bucketStats)
		if err != nil {
			return err
		}
		for i, p := range parts {
			cb, err := sb.CreateBucketIfNotExists([]byte(p.Channel))
			if err != nil {
				return err
			}
			if err := cb.Put(statsKey(p.Day, p.Instance), vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save subscriber parts: %w", err)
	}
	return nil
}

// SubscriberParts is store.SubscriberStats.SubscriberParts.
func (db *DB) SubscriberParts(ctx context.Context, from, to string) ([]store.SubscriberPart, error) {
	var out []store.SubscriberPart
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		sb := tx.Bucket(bucketStats)
		if sb == nil {
			return nil
		}
		return sb.ForEachBucket(func(ch []byte) error {
			c := sb.Bucket(ch).Cursor()
			k, v := c.First()
			if from != "" {
				k, v = c.Seek([]byte(from))
			}
			for ; k != nil; k, v = c.Next() {
				day, instance, _ := bytes.Cut(k, []byte{0})
				if to != "" && string(day) > to {
					break
				}
				p, err := record.DecodeSubscriberPart(string(ch), string(day), string(instance), v)
				if err != nil {
					return fmt.Errorf("channel %s day %s: %w", clip(ch), clip(k), err)
				}
				out = append(out, p)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("subscriber parts: %w", err)
	}
	return out, nil
}

// SettleSubscriberDays is store.SubscriberStats.SettleSubscriberDays.
func (db *DB) SettleSubscriberDays(ctx context.Context, settled []store.SubscriberPart) error {
	vs := make([][]byte, len(settled))
	for i, p := range settled {
		err := store.CheckSettledPart(p, bbolt.MaxKeySize)
		if err != nil {
			return fmt.Errorf("settle subscriber days: %w", err)
		}
		if vs[i], err = record.EncodeSubscriberPart(p); err != nil {
			return fmt.Errorf("settle subscriber days: %w", err)
		}
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		sb, err := tx.CreateBucketIfNotExists(bucketStats)
		if err != nil {
			return err
		}
		for i, p := range settled {
			cb, err := sb.CreateBucketIfNotExists([]byte(p.Channel))
			if err != nil {
				return err
			}
			prefix := []byte(p.Day + "\x00") // the instances' parts
			c := cb.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
			if err := cb.Put([]byte(p.Day), vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle subscriber days: %w", err)
	}
	return nil
}
