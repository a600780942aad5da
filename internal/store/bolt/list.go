package bolt

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// Mailing lists live in
//
//	lists / <channel> 0x00 <address> → subscriber and send log (record.EncodeSubscriber)
//	mailmeta / "secret" → the secret of the mail links
//
// so that one channel's list is a prefix scan in address order. One
// process holds the file, so a claim only guards against this process's
// own loops; it is kept all the same, so that the rules are the
// contract's.

var (
	bucketLists    = []byte("lists")
	bucketMailMeta = []byte("mailmeta")
	keySecret      = []byte("secret")
)

func listKey(channel, address string) []byte {
	return []byte(channel + "\x00" + address)
}

func getSubscriber(b *bbolt.Bucket, channel, address string) (store.Subscriber, bool, error) {
	if b == nil {
		return store.Subscriber{}, false, nil
	}
	v := b.Get(listKey(channel, address))
	if v == nil {
		return store.Subscriber{}, false, nil
	}
	s, err := record.DecodeSubscriber(channel, address, v)
	return s, err == nil, err
}

func putSubscriber(b *bbolt.Bucket, s store.Subscriber) error {
	v, err := record.EncodeSubscriber(s)
	if err != nil {
		return err
	}
	return b.Put(listKey(s.Channel, s.Address), v)
}

func notSubscribed(channel, address string) error {
	return feed.Errorf(feed.ENOTFOUND, "%s is not on the list of %s", address, channel)
}

// change applies fn to the stored subscriber in one write transaction
// (batched when batched: shared with the changes made at once, and fn may
// then run more than once), writing the record fn returns when write is
// true.
func (db *DB) change(ctx context.Context, batched bool, channel, address string, fn func(store.Subscriber) (store.Subscriber, bool, error)) (store.Subscriber, error) {
	if err := store.CheckSubscriber(channel, address); err != nil {
		return store.Subscriber{}, err
	}
	var out store.Subscriber
	run := db.update
	if batched {
		run = db.batch
	}
	err := run(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLists)
		if err != nil {
			return err
		}
		s, ok, err := getSubscriber(b, channel, address)
		if err != nil {
			return err
		}
		if !ok {
			return notSubscribed(channel, address)
		}
		s, write, err := fn(s)
		if err != nil {
			return err
		}
		out = s
		if write {
			return putSubscriber(b, s)
		}
		return nil
	})
	return out, err
}

// AddSubscriber is store.Lists.AddSubscriber.
func (db *DB) AddSubscriber(ctx context.Context, s store.Subscriber) (store.Subscriber, bool, error) {
	if err := store.CheckSubscriber(s.Channel, s.Address); err != nil {
		return store.Subscriber{}, false, fmt.Errorf("add subscriber: %w", err)
	}
	if err := store.CheckDigest(s.Digest); err != nil {
		return store.Subscriber{}, false, fmt.Errorf("add subscriber: %w", err)
	}
	fresh := store.Subscriber{Channel: s.Channel, Address: s.Address, State: store.Pending, Digest: s.Digest, Created: jsonTime(s.Created)}
	var (
		out     store.Subscriber
		created bool
	)
	// Batched: sign-ups at once share a commit (fn may run again).
	err := db.batch(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLists)
		if err != nil {
			return err
		}
		old, ok, err := getSubscriber(b, s.Channel, s.Address)
		if err != nil {
			return err
		}
		out, created = fresh, true
		if ok {
			out, created = old.Restart(fresh.Created)
		}
		if created {
			return putSubscriber(b, out)
		}
		return nil
	})
	if err != nil {
		return store.Subscriber{}, false, fmt.Errorf("add subscriber %s %s: %w", s.Channel, s.Address, err)
	}
	return out, created, nil
}

// Subscriber is store.Lists.Subscriber.
func (db *DB) Subscriber(ctx context.Context, channel, address string) (store.Subscriber, error) {
	var out store.Subscriber
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		s, ok, err := getSubscriber(tx.Bucket(bucketLists), channel, address)
		if err == nil && !ok {
			err = notSubscribed(channel, address)
		}
		out = s
		return err
	})
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", err)
	}
	return out, nil
}

// Subscribers is store.Lists.Subscribers.
func (db *DB) Subscribers(ctx context.Context, channel, after string, limit int) ([]store.Subscriber, error) {
	var out []store.Subscriber
	if limit <= 0 {
		return nil, ctx.Err()
	}
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return eachSubscriber(tx, channel, after, func(s store.Subscriber) bool {
			out = append(out, s)
			return len(out) < limit
		})
	})
	if err != nil {
		return nil, fmt.Errorf("subscribers of %s: %w", channel, err)
	}
	return out, nil
}

// eachSubscriber calls fn for channel's subscribers after after, in
// address order, while it returns true.
func eachSubscriber(tx *bbolt.Tx, channel, after string, fn func(store.Subscriber) bool) error {
	b := tx.Bucket(bucketLists)
	if b == nil {
		return nil
	}
	prefix := []byte(channel + "\x00")
	start := prefix
	if after != "" {
		start = append(listKey(channel, after), 0)
	}
	c := b.Cursor()
	for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		s, err := record.DecodeSubscriber(channel, string(k[len(prefix):]), v)
		if err != nil {
			return err
		}
		if !fn(s) {
			return nil
		}
	}
	return nil
}

// ListCounts is store.Lists.ListCounts.
func (db *DB) ListCounts(ctx context.Context, channel string) (store.ListCounts, error) {
	var n store.ListCounts
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return eachSubscriber(tx, channel, "", func(s store.Subscriber) bool {
			switch s.State {
			case store.Confirmed:
				n.Confirmed++
			case store.Pending:
				n.Pending++
			case store.Bounced:
				n.Bounced++
			}
			return true
		})
	})
	if err != nil {
		return store.ListCounts{}, fmt.Errorf("list counts of %s: %w", channel, err)
	}
	return n, nil
}

// MarkConfirmSent is store.Lists.MarkConfirmSent.
func (db *DB) MarkConfirmSent(ctx context.Context, channel, address string, at time.Time, every time.Duration) (bool, error) {
	var ok bool
	_, err := db.change(ctx, true, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		s, ok = s.ConfirmDue(jsonTime(at), every)
		return s, ok, nil
	})
	if err != nil {
		return false, fmt.Errorf("mark confirmation sent: %w", err)
	}
	return ok, nil
}

// ConfirmSubscriber is store.Lists.ConfirmSubscriber.
func (db *DB) ConfirmSubscriber(ctx context.Context, channel, address string, now time.Time, from uint64) (store.Subscriber, error) {
	s, err := db.change(ctx, true, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		was := s.State
		s, err := s.ConfirmAt(jsonTime(now), from)
		return s, err == nil && was != s.State, err
	})
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("confirm subscriber: %w", err)
	}
	return s, nil
}

// SetDigest is store.Lists.SetDigest.
func (db *DB) SetDigest(ctx context.Context, channel, address, digest string) error {
	if err := store.CheckDigest(digest); err != nil {
		return fmt.Errorf("set digest: %w", err)
	}
	_, err := db.change(ctx, true, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		s.Digest = digest
		return s, true, nil
	})
	if err != nil {
		return fmt.Errorf("set digest: %w", err)
	}
	return nil
}

// RemoveSubscriber is store.Lists.RemoveSubscriber.
func (db *DB) RemoveSubscriber(ctx context.Context, channel, address string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLists)
		if b == nil {
			return nil
		}
		return b.Delete(listKey(channel, address))
	})
	if err != nil {
		return fmt.Errorf("remove subscriber %s %s: %w", channel, address, err)
	}
	return nil
}

// EraseAddress is store.Lists.EraseAddress. It walks every list: a staff
// command, rare, and a scan of a bucket of small records.
func (db *DB) EraseAddress(ctx context.Context, address string) ([]string, error) {
	var chans []string
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		chans = nil
		b := tx.Bucket(bucketLists)
		if b == nil {
			return nil
		}
		suffix := "\x00" + address
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if ch, ok := strings.CutSuffix(string(k), suffix); ok && !strings.ContainsRune(ch, 0) {
				keys = append(keys, bytes.Clone(k))
				chans = append(chans, ch)
			}
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erase address: %w", err)
	}
	sort.Strings(chans)
	return chans, nil
}

// PrunePending is store.Lists.PrunePending.
func (db *DB) PrunePending(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := db.update(ctx, func(tx *bbolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketLists)
			if b == nil {
				return nil
			}
			var keys [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil && len(keys) < store.ListBatch; k, v = c.Next() {
				ch, addr, _ := strings.Cut(string(k), "\x00")
				s, err := record.DecodeSubscriber(ch, addr, v)
				if err != nil {
					return err
				}
				if s.State == store.Pending && s.Created.Before(before) {
					keys = append(keys, bytes.Clone(k))
				}
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune pending subscribers: %w", err)
		}
		total += n
		if n < store.ListBatch {
			return total, nil
		}
	}
}

// ClaimSend is store.Lists.ClaimSend.
func (db *DB) ClaimSend(ctx context.Context, c store.SendClaim) (store.Subscriber, bool, error) {
	var ok bool
	c.Now, c.Until, c.Period = jsonTime(c.Now), jsonTime(c.Until), jsonTime(c.Period)
	s, err := db.change(ctx, true, c.Channel, c.Address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		s, ok = s.Claim(c)
		return s, ok, nil
	})
	if err != nil {
		return store.Subscriber{}, false, fmt.Errorf("claim send: %w", err)
	}
	return s, ok, nil
}

// FinishSend is store.Lists.FinishSend.
func (db *DB) FinishSend(ctx context.Context, channel, address, owner string, r store.SendResult) (store.Subscriber, error) {
	r.Now = jsonTime(r.Now)
	s, err := db.change(ctx, true, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		s, err := s.Finish(owner, r)
		return s, err == nil, err
	})
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("finish send: %w", err)
	}
	return s, nil
}

// MailSecret is store.Lists.MailSecret.
func (db *DB) MailSecret(ctx context.Context, candidate []byte) ([]byte, error) {
	if err := store.CheckSecret(candidate); err != nil {
		return nil, err
	}
	var out []byte
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMailMeta); b != nil {
			out = bytes.Clone(b.Get(keySecret))
		}
		return nil
	})
	if err == nil && out == nil {
		err = db.update(ctx, func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketMailMeta)
			if err != nil {
				return err
			}
			if v := b.Get(keySecret); v != nil {
				out = bytes.Clone(v)
				return nil
			}
			out = bytes.Clone(candidate)
			return b.Put(keySecret, out)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("mail secret: %w", err)
	}
	return out, nil
}

// ListChannels is store.Lists.ListChannels: one seek per channel.
func (db *DB) ListChannels(ctx context.Context) ([]string, error) {
	var out []string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLists)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; {
			ch, _, _ := strings.Cut(string(k), "\x00")
			out = append(out, ch)
			k, _ = c.Seek([]byte(ch + "\x01"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// ImportSubscriber is store.Lists.ImportSubscriber.
func (db *DB) ImportSubscriber(ctx context.Context, s store.Subscriber) error {
	if err := store.CheckImport(s); err != nil {
		return fmt.Errorf("import subscriber: %w", err)
	}
	err := db.batch(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLists)
		if err != nil {
			return err
		}
		return putSubscriber(b, s)
	})
	if err != nil {
		return fmt.Errorf("import subscriber %s %s: %w", s.Channel, s.Address, err)
	}
	return nil
}
