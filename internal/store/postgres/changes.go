package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The change feed: every writer transaction (write) ends with a NOTIFY on
// the store's channel whose payload is the write order's last Rev; the
// server delivers it at commit, and only then, to every session that
// LISTENs on the channel. WatchChanges keeps one such session: a
// connection taken from the pool for good (hijacked, so that a LISTEN
// never goes back to the pool), opened again with backoff when it fails.

// Backoff of WatchChanges between two failed connections.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 30 * time.Second
)

// channelName is the NOTIFY channel of the store in schema: one per
// schema (one database may hold several stores), hashed to stay within
// PostgreSQL's 63-byte identifiers.
func channelName(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return "aggregator_" + hex.EncodeToString(h[:10])
}

// notify is the statement that ends every writer transaction.
const notifySQL = `SELECT pg_notify($1, value::text) FROM counters WHERE name = 'rev'`

// WatchChanges listens on the store's channel; see store.Changes. It
// returns an error when the store is closed.
func (db *DB) WatchChanges(ctx context.Context, fn func(rev uint64)) error {
	wait := watchRetryMin
	for {
		listened, err := db.listen(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if db.closed.Load() {
			return fmt.Errorf("watch changes: %w", errors.Join(errClosed, err))
		}
		if listened {
			wait = watchRetryMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, watchRetryMax)
	}
}

var errClosed = errors.New("store closed")

// listen takes a connection, listens on it and calls fn for each
// notification until the connection fails or ctx ends; listened reports
// whether it got as far as listening.
func (db *DB) listen(ctx context.Context, fn func(rev uint64)) (listened bool, err error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	conn := c.Hijack() // ours until closed: the pool opens another
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		return false, err
	}
	fn(0)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		rev, _ := strconv.ParseUint(n.Payload, 10, 64) // 0 (anything may have changed) if not a number
		fn(rev)
	}
}
