package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Subscriber statistics:
//
//	stats / <channel id> / "2006-01-02" → counts of the day, JSON (statsRecord)
var bucketStats = []byte("stats")

type statsRecord struct {
	Requests    int `json:"requests,omitempty"`
	NotModified int `json:"not_modified,omitempty"`
	Clients     int `json:"clients,omitempty"`
	Reported    int `json:"reported,omitempty"`
}

// SaveSubscriberDays stores each day, replacing what was stored for the same
// channel and day, in one write transaction. A day with an empty channel or
// day is a feed.EINVALID error and nothing is written.
func (db *DB) SaveSubscriberDays(ctx context.Context, days []feed.SubscriberDay) error {
	for _, d := range days {
		if d.Channel == "" || len(d.Channel) > bbolt.MaxKeySize || d.Day == "" || len(d.Day) > 64 {
			return fmt.Errorf("save subscriber days: %w", feed.Errorf(feed.EINVALID, "channel and day must be set (got %q, %q)", d.Channel, d.Day))
		}
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		sb, err := tx.CreateBucketIfNotExists(bucketStats)
		if err != nil {
			return err
		}
		for _, d := range days {
			cb, err := sb.CreateBucketIfNotExists([]byte(d.Channel))
			if err != nil {
				return err
			}
			v, err := marshal(statsRecord{Requests: d.Requests, NotModified: d.NotModified, Clients: d.Clients, Reported: d.Reported})
			if err != nil {
				return err
			}
			if err := cb.Put([]byte(d.Day), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save subscriber days: %w", err)
	}
	return nil
}

// SubscriberDays returns the stored days from from to to inclusive
// ("2006-01-02"; an empty bound is open), ordered by channel, then day.
func (db *DB) SubscriberDays(ctx context.Context, from, to string) ([]feed.SubscriberDay, error) {
	var out []feed.SubscriberDay
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
			for ; k != nil && (to == "" || string(k) <= to); k, v = c.Next() {
				var r statsRecord
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("channel %s day %s: %w", clip(ch), clip(k), err)
				}
				out = append(out, feed.SubscriberDay{Channel: string(ch), Day: string(k),
					Requests: r.Requests, NotModified: r.NotModified, Clients: r.Clients, Reported: r.Reported})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("subscriber days: %w", err)
	}
	return out, nil
}
