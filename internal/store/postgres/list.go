package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// The mailing lists (schemaLists). Every change of a subscriber is one
// transaction that locks its row (SELECT … FOR UPDATE), applies the
// contract's rule (store.Subscriber's Claim, Finish…) and writes the
// result: two instances claiming one subscriber's send serialise on the
// row, and the second sees the first's claim. Outside the writer lock: no
// poll decision reads these rows.

func listHash(channel, address string) []byte { return hashOf("list", channel, address) }
func addrHash(address string) []byte          { return hashOf("addr", address) }
func chanHash(channel string) []byte          { return hashOf("chan", channel) }

func notSubscribed(channel, address string) error {
	return feed.Errorf(feed.ENOTFOUND, "%s is not on the list of %s", address, channel)
}

// tx runs fn in a READ COMMITTED transaction, unless ctx is done or the
// store is read-only.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return store.ErrReadOnly
	}
	return classify(db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn))
}

func lockSubscriber(ctx context.Context, tx pgx.Tx, channel, address string) (store.Subscriber, bool, error) {
	var body []byte
	err := tx.QueryRow(ctx, `SELECT body FROM list_subscribers WHERE h = $1 FOR UPDATE`, listHash(channel, address)).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Subscriber{}, false, nil
	}
	if err != nil {
		return store.Subscriber{}, false, err
	}
	s, err := record.DecodeSubscriber(channel, address, body)
	return s, err == nil, err
}

func writeSubscriber(ctx context.Context, tx pgx.Tx, s store.Subscriber) error {
	body, err := record.EncodeSubscriber(s)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO list_subscribers (h, ch, ah, channel, address, state, created, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (h) DO UPDATE SET state = excluded.state, created = excluded.created, body = excluded.body`,
		listHash(s.Channel, s.Address), chanHash(s.Channel), addrHash(s.Address), []byte(s.Channel), []byte(s.Address),
		s.State, s.Created.UnixNano(), body)
	return err
}

// change applies fn to the locked record, writing what it returns when
// write is true.
func (db *DB) change(ctx context.Context, channel, address string, fn func(store.Subscriber) (store.Subscriber, bool, error)) (store.Subscriber, error) {
	if err := store.CheckSubscriber(channel, address); err != nil {
		return store.Subscriber{}, err
	}
	var out store.Subscriber
	err := db.tx(ctx, func(tx pgx.Tx) error {
		s, ok, err := lockSubscriber(ctx, tx, channel, address)
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
			return writeSubscriber(ctx, tx, s)
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
	fresh := store.Subscriber{Channel: s.Channel, Address: s.Address, State: store.Pending, Digest: s.Digest, Created: story.Time(s.Created)}
	var (
		out     store.Subscriber
		created bool
	)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// A row to lock, if none: two sign-ups at once create it once.
		body, err := record.EncodeSubscriber(fresh)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO list_subscribers (h, ch, ah, channel, address, state, created, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (h) DO NOTHING`,
			listHash(s.Channel, s.Address), chanHash(s.Channel), addrHash(s.Address), []byte(s.Channel), []byte(s.Address),
			fresh.State, fresh.Created.UnixNano(), body)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			out, created = fresh, true
			return nil
		}
		old, _, err := lockSubscriber(ctx, tx, s.Channel, s.Address)
		if err != nil {
			return err
		}
		out, created = old.Restart(fresh.Created)
		if created {
			return writeSubscriber(ctx, tx, out)
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
	if err := read(ctx); err != nil {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", err)
	}
	var body []byte
	err := db.pool.QueryRow(ctx, `SELECT body FROM list_subscribers WHERE h = $1`, listHash(channel, address)).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", notSubscribed(channel, address))
	}
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", err)
	}
	return record.DecodeSubscriber(channel, address, body)
}

// Subscribers is store.Lists.Subscribers.
func (db *DB) Subscribers(ctx context.Context, channel, after string, limit int) ([]store.Subscriber, error) {
	if err := read(ctx); err != nil || limit <= 0 {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT address, body FROM list_subscribers WHERE ch = $1 AND address > $2
		ORDER BY address LIMIT $3`, chanHash(channel), []byte(after), limit)
	if err != nil {
		return nil, fmt.Errorf("subscribers of %s: %w", channel, err)
	}
	defer rows.Close()
	var out []store.Subscriber
	for rows.Next() {
		var addr, body []byte
		if err := rows.Scan(&addr, &body); err != nil {
			return nil, fmt.Errorf("subscribers of %s: %w", channel, err)
		}
		s, err := record.DecodeSubscriber(channel, string(addr), body)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subscribers of %s: %w", channel, err)
	}
	return out, nil
}

// ListCounts is store.Lists.ListCounts.
func (db *DB) ListCounts(ctx context.Context, channel string) (store.ListCounts, error) {
	var n store.ListCounts
	if err := read(ctx); err != nil {
		return n, fmt.Errorf("list counts: %w", err)
	}
	err := db.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE state = 'confirmed'), count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'bounced')
		FROM list_subscribers WHERE ch = $1`, chanHash(channel)).Scan(&n.Confirmed, &n.Pending, &n.Bounced)
	if err != nil {
		return store.ListCounts{}, fmt.Errorf("list counts of %s: %w", channel, err)
	}
	return n, nil
}

// MarkConfirmSent is store.Lists.MarkConfirmSent.
func (db *DB) MarkConfirmSent(ctx context.Context, channel, address string, at time.Time, every time.Duration) (bool, error) {
	var ok bool
	_, err := db.change(ctx, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		s, ok = s.ConfirmDue(story.Time(at), every)
		return s, ok, nil
	})
	if err != nil {
		return false, fmt.Errorf("mark confirmation sent: %w", err)
	}
	return ok, nil
}

// ConfirmSubscriber is store.Lists.ConfirmSubscriber.
func (db *DB) ConfirmSubscriber(ctx context.Context, channel, address string, now time.Time, from uint64) (store.Subscriber, error) {
	s, err := db.change(ctx, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
		was := s.State
		s, err := s.ConfirmAt(story.Time(now), from)
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
	_, err := db.change(ctx, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
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
	if err := db.exec(ctx, `DELETE FROM list_subscribers WHERE h = $1`, listHash(channel, address)); err != nil {
		return fmt.Errorf("remove subscriber %s %s: %w", channel, address, err)
	}
	return nil
}

// EraseAddress is store.Lists.EraseAddress.
func (db *DB) EraseAddress(ctx context.Context, address string) ([]string, error) {
	var chans []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		chans = nil
		rows, err := tx.Query(ctx, `DELETE FROM list_subscribers WHERE ah = $1 AND address = $2 RETURNING channel`, addrHash(address), []byte(address))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ch []byte
			if err := rows.Scan(&ch); err != nil {
				return err
			}
			chans = append(chans, string(ch))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("erase address: %w", err)
	}
	slices.Sort(chans)
	return chans, nil
}

// PrunePending is store.Lists.PrunePending.
func (db *DB) PrunePending(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("prune pending subscribers: %w", err)
		}
		if db.readOnly {
			return total, fmt.Errorf("prune pending subscribers: %w", store.ErrReadOnly)
		}
		sctx, cancel := sent(ctx)
		tag, err := db.pool.Exec(sctx, `DELETE FROM list_subscribers WHERE h IN (
			SELECT h FROM list_subscribers WHERE state = 'pending' AND created < $1 LIMIT $2)`,
			story.Time(before).UnixNano(), store.ListBatch)
		cancel()
		if err != nil {
			return total, fmt.Errorf("prune pending subscribers: %w", classify(err))
		}
		n := int(tag.RowsAffected())
		total += n
		if n < store.ListBatch {
			return total, nil
		}
	}
}

// ClaimSend is store.Lists.ClaimSend.
func (db *DB) ClaimSend(ctx context.Context, c store.SendClaim) (store.Subscriber, bool, error) {
	var ok bool
	c.Now, c.Until, c.Period = story.Time(c.Now), story.Time(c.Until), story.Time(c.Period)
	s, err := db.change(ctx, c.Channel, c.Address, func(s store.Subscriber) (store.Subscriber, bool, error) {
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
	r.Now = story.Time(r.Now)
	s, err := db.change(ctx, channel, address, func(s store.Subscriber) (store.Subscriber, bool, error) {
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
	err := db.pool.QueryRow(ctx, `SELECT value FROM mail_meta WHERE name = 'secret'`).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.exec(ctx, `INSERT INTO mail_meta VALUES ('secret', $1) ON CONFLICT (name) DO NOTHING`, candidate)
		if err == nil {
			err = db.pool.QueryRow(ctx, `SELECT value FROM mail_meta WHERE name = 'secret'`).Scan(&out)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mail secret: %w", err)
	}
	return out, nil
}

// ListChannels is store.Lists.ListChannels.
func (db *DB) ListChannels(ctx context.Context) ([]string, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT channel FROM list_subscribers ORDER BY channel`)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch []byte
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		out = append(out, string(ch))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// ImportSubscriber is store.Lists.ImportSubscriber.
func (db *DB) ImportSubscriber(ctx context.Context, s store.Subscriber) error {
	if err := store.CheckImport(s); err != nil {
		return fmt.Errorf("import subscriber: %w", err)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error { return writeSubscriber(ctx, tx, s) })
	if err != nil {
		return fmt.Errorf("import subscriber %s %s: %w", s.Channel, s.Address, err)
	}
	return nil
}
