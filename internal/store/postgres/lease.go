package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// Leases (store.Leases) are rows of poll_leases (by source hash), host_leases
// (by host hash) and role_leases, on the database's clock (now(): the
// transaction's start, one short transaction per call), so that instances
// with skewed clocks agree on expiry. A claim locks its two rows with
// SELECT … FOR UPDATE SKIP LOCKED: a claim that meets another claim of the
// same source or host in progress does not wait for it but answers "not
// now" with a short wait. None of it takes the writer lock: no story
// decision reads these rows.

// claimRetry is the wait a claim is given when it meets a claim in
// progress or a host in flight on another poll: the host's polls are
// short, its lease is not.
const claimRetry = 250 * time.Millisecond

// micros is d in microseconds, the database's resolution.
func micros(d time.Duration) int64 { return d.Microseconds() }

// checkLease checks a lease call's input: the owner (or role) first, then
// the other names.
func (db *DB) checkLease(ctx context.Context, op string, lease time.Duration, owner string, names ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if owner == "" || len(owner) > store.MaxOwner {
		return feed.Errorf(feed.EINVALID, "%s: empty or over-long owner (%d bytes)", op, len(owner))
	}
	for _, n := range names {
		if n == "" {
			return feed.Errorf(feed.EINVALID, "%s: empty name", op)
		}
	}
	if lease <= 0 {
		return feed.Errorf(feed.EINVALID, "%s: lease %s: must be positive", op, lease)
	}
	if db.readOnly {
		return fmt.Errorf("%s: %w", op, store.ErrReadOnly)
	}
	return nil
}

// ClaimPoll implements store.Leases: one transaction of two batches (the
// rows made and locked, then the grant).
func (db *DB) ClaimPoll(ctx context.Context, owner, sourceID, host string, seen time.Time, lease, hostGap time.Duration) (store.Claim, error) {
	if err := db.checkLease(ctx, "claim poll", lease, owner, sourceID, host); err != nil {
		return store.Claim{}, err
	}
	sh, hh := srcHash(sourceID), hashOf("host", host)
	var c store.Claim
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO poll_leases (h) VALUES ($1) ON CONFLICT DO NOTHING`, sh)
		b.Queue(`INSERT INTO host_leases (h) VALUES ($1) ON CONFLICT DO NOTHING`, hh)
		b.Queue(`SELECT owner, extract(epoch FROM until - now())::float8, released, next_s, next_ns
			FROM poll_leases WHERE h = $1 FOR UPDATE SKIP LOCKED`, sh)
		b.Queue(`SELECT owner, source, extract(epoch FROM until - now())::float8, extract(epoch FROM free - now())::float8
			FROM host_leases WHERE h = $1 FOR UPDATE SKIP LOCKED`, hh)
		br := tx.SendBatch(ctx, b)
		var (
			pOwner, hOwner, hSource []byte
			pLeft, hLeft, hFree     *float64
			released                bool
			nextS                   int64
			nextNs                  int32
			pLocked, hLocked        = true, true
		)
		_, err1 := br.Exec()
		_, err2 := br.Exec()
		err3 := br.QueryRow().Scan(&pOwner, &pLeft, &released, &nextS, &nextNs)
		if errors.Is(err3, pgx.ErrNoRows) {
			pLocked, err3 = false, nil
		}
		err4 := br.QueryRow().Scan(&hOwner, &hSource, &hLeft, &hFree)
		if errors.Is(err4, pgx.ErrNoRows) {
			hLocked, err4 = false, nil
		}
		if err := errors.Join(err1, err2, err3, err4, br.Close()); err != nil {
			return err
		}
		if !pLocked || !hLocked {
			c = store.Claim{Wait: claimRetry} // another claim is under way
			return nil
		}
		if released {
			c.NextPoll = time.Unix(nextS, int64(nextNs)).UTC()
		}
		left := func(p *float64) time.Duration {
			if p == nil {
				return 0
			}
			return time.Duration(*p * float64(time.Second))
		}
		switch {
		case left(pLeft) > 0 && string(pOwner) != owner:
			c.Wait, c.Holder = left(pLeft), string(pOwner)
			return nil
		case released && !c.NextPoll.Equal(seen):
			return nil
		case left(hLeft) > 0 && !(string(hOwner) == owner && string(hSource) == string(sh)):
			c.Wait, c.Host = min(claimRetry, left(hLeft)), true
			return nil
		case left(hFree) > 0:
			c.Wait, c.Host = left(hFree), true
			return nil
		}
		b = &pgx.Batch{}
		b.Queue(`UPDATE poll_leases SET owner = $2, until = now() + $3 * interval '1 microsecond' WHERE h = $1`,
			sh, []byte(owner), micros(lease))
		b.Queue(`UPDATE host_leases SET owner = $2, source = $3, until = now() + $4 * interval '1 microsecond', gap_us = $5
			WHERE h = $1`, hh, []byte(owner), sh, micros(lease), micros(hostGap))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		c.Held, c.Wait = true, lease
		return nil
	})
	if err != nil {
		return store.Claim{}, fmt.Errorf("claim poll %s: %w", sourceID, classify(err))
	}
	return c, nil
}

// RenewPoll implements store.Leases: one statement.
func (db *DB) RenewPoll(ctx context.Context, owner, sourceID, host string, lease time.Duration) error {
	if err := db.checkLease(ctx, "renew poll", lease, owner, sourceID, host); err != nil {
		return err
	}
	sh := srcHash(sourceID)
	var n int
	err := db.pool.QueryRow(ctx, `WITH p AS (
			UPDATE poll_leases SET until = now() + $3 * interval '1 microsecond'
			WHERE h = $1 AND owner = $2 RETURNING 1),
		hl AS (
			UPDATE host_leases SET until = now() + $3 * interval '1 microsecond'
			WHERE h = $4 AND owner = $2 AND source = $1 AND EXISTS (SELECT FROM p) RETURNING 1)
		SELECT (SELECT count(*) FROM p) + 0 * (SELECT count(*) FROM hl)`,
		sh, []byte(owner), micros(lease), hashOf("host", host)).Scan(&n)
	if err != nil {
		return fmt.Errorf("renew poll %s: %w", sourceID, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("renew poll %s: %w", sourceID, store.ErrLeaseLost)
	}
	return nil
}

// ReleasePoll implements store.Leases: one statement.
func (db *DB) ReleasePoll(ctx context.Context, owner, sourceID, host string, next time.Time) error {
	if err := db.checkLease(ctx, "release poll", time.Second, owner, sourceID, host); err != nil {
		return err
	}
	sh := srcHash(sourceID)
	_, err := db.pool.Exec(ctx, `WITH p AS (
			UPDATE poll_leases SET owner = NULL, until = NULL, released = true, next_s = $3, next_ns = $4
			WHERE h = $1 AND owner = $2 RETURNING 1)
		UPDATE host_leases SET owner = NULL, source = NULL, until = NULL,
			free = now() + gap_us * interval '1 microsecond'
		WHERE h = $5 AND owner = $2 AND source = $1 AND EXISTS (SELECT FROM p)`,
		sh, []byte(owner), next.Unix(), int32(next.Nanosecond()), hashOf("host", host))
	if err != nil {
		return fmt.Errorf("release poll %s: %w", sourceID, classify(err))
	}
	return nil
}

// PollLeases implements store.Leases.
func (db *DB) PollLeases(ctx context.Context, owner string) (int, error) {
	if err := read(ctx); err != nil {
		return 0, fmt.Errorf("poll leases: %w", err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM poll_leases WHERE owner = $1 AND until > now()`,
		[]byte(owner)).Scan(&n); err != nil {
		return 0, fmt.Errorf("poll leases: %w", err)
	}
	return n, nil
}

// HoldRole implements store.Leases: one statement, which takes the row
// when it is free, expired or owner's.
func (db *DB) HoldRole(ctx context.Context, role, owner string, lease time.Duration) (bool, error) {
	if err := db.checkLease(ctx, "hold role", lease, owner, role); err != nil {
		return false, err
	}
	rows, err := db.pool.Query(ctx, `INSERT INTO role_leases (role, owner, until)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE role_leases.owner = excluded.owner OR role_leases.until <= now()
		RETURNING 1`, []byte(role), []byte(owner), micros(lease))
	if err != nil {
		return false, fmt.Errorf("hold role %s: %w", role, classify(err))
	}
	held := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("hold role %s: %w", role, classify(err))
	}
	return held, nil
}

// ReleaseRole implements store.Leases.
func (db *DB) ReleaseRole(ctx context.Context, role, owner string) error {
	if err := db.checkLease(ctx, "release role", time.Second, owner, role); err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM role_leases WHERE role = $1 AND owner = $2`, []byte(role), []byte(owner)); err != nil {
		return fmt.Errorf("release role %s: %w", role, classify(err))
	}
	return nil
}
