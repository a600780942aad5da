package postgres

import (
	"context"
	"fmt"
	"time"

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

// ClaimPoll implements store.Leases: one call of claim_poll (schema.go),
// one round trip and one transaction.
func (db *DB) ClaimPoll(ctx context.Context, owner, sourceID, host string, seen time.Time, lease, hostGap time.Duration) (store.Claim, error) {
	if err := db.checkLease(ctx, "claim poll", lease, owner, sourceID, host); err != nil {
		return store.Claim{}, err
	}
	var (
		c        store.Claim
		waitUs   int64
		released bool
		nextS    int64
		nextNs   int32
		holder   []byte
	)
	sctx, cancel := sent(ctx)
	defer cancel()
	err := db.pool.QueryRow(sctx, `SELECT * FROM claim_poll($1, $2, $3, $4, $5, $6, $7, $8)`,
		srcHash(sourceID), hashOf("host", host), []byte(owner), srcHash(sourceID),
		seen.Unix(), int32(seen.Nanosecond()), micros(lease), micros(hostGap)).
		Scan(&c.Held, &waitUs, &released, &nextS, &nextNs, &holder, &c.Host)
	if err != nil {
		return store.Claim{}, fmt.Errorf("claim poll %s: %w", sourceID, classify(err))
	}
	c.Wait, c.Holder = time.Duration(waitUs)*time.Microsecond, string(holder)
	if released {
		c.NextPoll = time.Unix(nextS, int64(nextNs)).UTC()
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
	sctx, cancel := sent(ctx)
	defer cancel()
	err := db.pool.QueryRow(sctx, `WITH p AS (
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

// ReleasePoll implements store.Leases: one call of release_poll (schema.go).
func (db *DB) ReleasePoll(ctx context.Context, owner, sourceID, host string, next time.Time) error {
	if err := db.checkLease(ctx, "release poll", time.Second, owner, sourceID, host); err != nil {
		return err
	}
	sh := srcHash(sourceID)
	sctx, cancel := sent(ctx)
	defer cancel()
	_, err := db.pool.Exec(sctx, `SELECT release_poll($1, $2, $3, $4, $5)`,
		sh, hashOf("host", host), []byte(owner), next.Unix(), int32(next.Nanosecond()))
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
	sctx, cancel := sent(ctx)
	defer cancel()
	rows, err := db.pool.Query(sctx, `INSERT INTO role_leases (role, owner, until)
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
	sctx, cancel := sent(ctx)
	defer cancel()
	if _, err := db.pool.Exec(sctx, `DELETE FROM role_leases WHERE role = $1 AND owner = $2`, []byte(role), []byte(owner)); err != nil {
		return fmt.Errorf("release role %s: %w", role, classify(err))
	}
	return nil
}
