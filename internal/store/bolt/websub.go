package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// WebSub subscriptions live in
//
//	websub / <topic> 0x00 <callback> → subscription, JSON (subscriptionRecord)
//
// so that one topic's subscribers are a prefix scan.

var bucketWebSub = []byte("websub")

type subscriptionRecord struct {
	Secret  string    `json:"secret,omitempty"`
	Lease   int64     `json:"lease_seconds"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created,omitzero"`
}

func subscriptionKey(topic, callback string) []byte {
	return []byte(topic + "\x00" + callback)
}

// PutSubscription stores s, replacing any subscription of the same
// callback to the same topic. It returns a feed.EINVALID error for an
// empty topic or callback, or one holding a NUL byte.
func (db *DB) PutSubscription(ctx context.Context, s feed.Subscription) error {
	if s.Topic == "" || s.Callback == "" || strings.ContainsRune(s.Topic+s.Callback, 0) {
		return fmt.Errorf("put subscription: %w", feed.Errorf(feed.EINVALID, "topic and callback must be non-empty and hold no NUL"))
	}
	v, err := json.Marshal(subscriptionRecord{
		Secret: s.Secret, Lease: int64(s.Lease / time.Second), Expires: jsonTime(s.Expires), Created: jsonTime(s.Created),
	})
	if err != nil {
		return fmt.Errorf("put subscription: %w", err)
	}
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWebSub)
		if err != nil {
			return err
		}
		return b.Put(subscriptionKey(s.Topic, s.Callback), v)
	})
	if err != nil {
		return fmt.Errorf("put subscription %s %s: %w", s.Topic, s.Callback, err)
	}
	return nil
}

// DeleteSubscription removes the subscription of callback to topic;
// removing one that does not exist is not an error.
func (db *DB) DeleteSubscription(ctx context.Context, topic, callback string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWebSub)
		if b == nil {
			return nil
		}
		return b.Delete(subscriptionKey(topic, callback))
	})
	if err != nil {
		return fmt.Errorf("delete subscription %s %s: %w", topic, callback, err)
	}
	return nil
}

// Subscriptions returns the stored subscriptions to topic, or to every
// topic when topic is "", expired ones included, ordered by topic then
// callback.
func (db *DB) Subscriptions(ctx context.Context, topic string) ([]feed.Subscription, error) {
	var out []feed.Subscription
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWebSub)
		if b == nil {
			return nil
		}
		var prefix []byte
		if topic != "" {
			prefix = []byte(topic + "\x00")
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			t, cb, ok := strings.Cut(string(k), "\x00")
			if !ok {
				return fmt.Errorf("bad subscription key %s", clip(k))
			}
			var r subscriptionRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("subscription %s: %w", clip(k), err)
			}
			out = append(out, feed.Subscription{
				Topic: t, Callback: cb, Secret: r.Secret,
				Lease: time.Duration(r.Lease) * time.Second, Expires: r.Expires, Created: r.Created,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return out, nil
}
