package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// subscriptionRecord is how a subscription is stored, as in bolt.
type subscriptionRecord struct {
	Secret  string    `json:"secret,omitempty"`
	Lease   int64     `json:"lease_seconds"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created,omitzero"`
}

// PutSubscription is store.Subscriptions.PutSubscription.
func (db *DB) PutSubscription(ctx context.Context, s feed.Subscription) error {
	if s.Topic == "" || s.Callback == "" || strings.ContainsRune(s.Topic+s.Callback, 0) {
		return fmt.Errorf("put subscription: %w", feed.Errorf(feed.EINVALID, "topic and callback must be non-empty and hold no NUL"))
	}
	v, err := json.Marshal(subscriptionRecord{Secret: s.Secret, Lease: int64(s.Lease / time.Second),
		Expires: story.Time(s.Expires), Created: story.Time(s.Created)})
	if err != nil {
		return fmt.Errorf("put subscription: %w", err)
	}
	err = db.exec(ctx, `INSERT INTO subscriptions (h, th, topic, callback, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (h) DO UPDATE SET body = excluded.body`,
		hashOf(s.Topic, s.Callback), hashOf(s.Topic), []byte(s.Topic), []byte(s.Callback), v)
	if err != nil {
		return fmt.Errorf("put subscription %s %s: %w", s.Topic, s.Callback, err)
	}
	return nil
}

// DeleteSubscription removes the subscription of callback to topic.
func (db *DB) DeleteSubscription(ctx context.Context, topic, callback string) error {
	if err := db.exec(ctx, `DELETE FROM subscriptions WHERE h = $1`, hashOf(topic, callback)); err != nil {
		return fmt.Errorf("delete subscription %s %s: %w", topic, callback, err)
	}
	return nil
}

// Subscriptions returns the subscriptions to topic ("" for all), ordered
// by topic then callback.
func (db *DB) Subscriptions(ctx context.Context, topic string) ([]feed.Subscription, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT topic, callback, body FROM subscriptions WHERE $1 OR th = $2 ORDER BY topic, callback`,
		topic == "", hashOf(topic))
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	defer rows.Close()
	var out []feed.Subscription
	for rows.Next() {
		var t, cb, v []byte
		if err := rows.Scan(&t, &cb, &v); err != nil {
			return nil, fmt.Errorf("subscriptions: %w", err)
		}
		var r subscriptionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("subscription %s %s: %w", t, cb, err)
		}
		out = append(out, feed.Subscription{Topic: string(t), Callback: string(cb), Secret: r.Secret,
			Lease: time.Duration(r.Lease) * time.Second, Expires: r.Expires, Created: r.Created})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return out, nil
}
