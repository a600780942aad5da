package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// copyLists copies the mailing lists: every subscriber of every channel
// as stored (state, digest choice, times and send log, a claim in flight
// included, so that the send it stands for is made once, from the
// target), and the secret of the mail links, so that the links in mail
// already sent (confirm, unsubscribe, manage) keep working. The send log
// counts story Seqs, which the stories step keeps.
func copyLists(ctx context.Context, from store.Store, to Target) error {
	chans, err := from.ListChannels(ctx)
	if err != nil || len(chans) == 0 {
		return err
	}
	secret, err := from.MailSecret(ctx, newSecret())
	if err != nil {
		return err
	}
	got, err := to.MailSecret(ctx, secret)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, secret) {
		return errors.New("mailing lists: the target already has another mail secret (it is not empty)")
	}
	for _, ch := range chans {
		if err := eachSubscriber(ctx, from, ch, func(s store.Subscriber) error {
			return to.ImportSubscriber(ctx, s)
		}); err != nil {
			return err
		}
	}
	return nil
}

// sumLists hashes the secret (when there are lists) and every subscriber
// record, times in UTC, channel by channel in the store's order.
func sumLists(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	chans, err := s.ListChannels(ctx)
	if err != nil || len(chans) == 0 {
		return 0, err
	}
	// A source opened read-only has its secret (sign-ups made it); the
	// candidate is never stored there.
	secret, err := s.MailSecret(ctx, newSecret())
	if err != nil {
		return 0, err
	}
	put(h, secret)
	n := 0
	for _, ch := range chans {
		put(h, []byte(ch))
		if err := eachSubscriber(ctx, s, ch, func(sub store.Subscriber) error {
			for _, t := range []*time.Time{&sub.Created, &sub.Confirmed, &sub.ConfirmSent, &sub.LastPeriod, &sub.LastSent, &sub.Until} {
				*t = t.UTC()
			}
			if sub.Pending != nil {
				p := *sub.Pending
				p.Period = p.Period.UTC()
				sub.Pending = &p
			}
			v, err := record.Marshal(sub)
			if err != nil {
				return err
			}
			put(h, v)
			n++
			return nil
		}); err != nil {
			return n, err
		}
	}
	return n, nil
}

// eachSubscriber calls fn for every subscriber of channel, a page at a
// time, in address order.
func eachSubscriber(ctx context.Context, s store.Store, channel string, fn func(store.Subscriber) error) error {
	after := ""
	for {
		page, err := s.Subscribers(ctx, channel, after, batch)
		if err != nil {
			return fmt.Errorf("subscribers of %s: %w", channel, err)
		}
		for _, sub := range page {
			if err := fn(sub); err != nil {
				return err
			}
		}
		if len(page) < batch {
			return nil
		}
		after = page[len(page)-1].Address
	}
}

// newSecret is a candidate secret: stored only by a store that has none.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
