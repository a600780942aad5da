package bolt

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// Leases (store.Leases) are kept in memory: one process holds the file,
// so every owner that claims is in this process, and nothing of a lease
// outlives it. The rules are the contract's, on the process's monotonic
// clock (time.Now, not Options.Now: a lease is real time).

// leases is the DB's lease table.
type leases struct {
	mu    sync.Mutex
	polls map[string]*pollLease
	hosts map[string]*hostLease
	roles map[string]*held
}

type held struct {
	owner string
	until time.Time
}

// active reports whether h is held by someone at now.
func (h *held) active(now time.Time) bool { return h.owner != "" && now.Before(h.until) }

type pollLease struct {
	held
	next time.Time // the NextPoll released last
	// released is true once a release recorded next.
	released bool
}

type hostLease struct {
	held
	source string        // the poll holding the host
	gap    time.Duration // the gap its holder gave
	free   time.Time     // no claim before (the last release plus its gap)
}

func newLeases() *leases {
	return &leases{polls: map[string]*pollLease{}, hosts: map[string]*hostLease{}, roles: map[string]*held{}}
}

// hostRetry is the wait a claim is given while the host is in flight on
// another poll: the host's polls are short, its lease is not.
const hostRetry = 250 * time.Millisecond

// checkLease checks a lease call's input: the owner (or role) first, then
// the other names.
func checkLease(ctx context.Context, op string, lease time.Duration, owner string, names ...string) error {
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
	return nil
}

// ClaimPoll implements store.Leases.
func (db *DB) ClaimPoll(ctx context.Context, owner, sourceID, host string, seen time.Time, lease, hostGap time.Duration) (store.Claim, error) {
	if err := checkLease(ctx, "claim poll", lease, owner, sourceID, host); err != nil {
		return store.Claim{}, err
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	p := l.polls[sourceID]
	if p == nil {
		p = &pollLease{}
		l.polls[sourceID] = p
	}
	if p.active(now) && p.owner != owner {
		return store.Claim{Wait: p.until.Sub(now), NextPoll: p.next, Holder: p.owner}, nil
	}
	if p.released && !p.next.Equal(seen) {
		return store.Claim{NextPoll: p.next}, nil
	}
	h := l.hosts[host]
	if h == nil {
		h = &hostLease{}
		l.hosts[host] = h
	}
	if h.active(now) && !(h.owner == owner && h.source == sourceID) {
		return store.Claim{Wait: min(hostRetry, h.until.Sub(now)), NextPoll: p.next, Host: true}, nil
	}
	if now.Before(h.free) {
		return store.Claim{Wait: h.free.Sub(now), NextPoll: p.next, Host: true}, nil
	}
	p.held = held{owner, now.Add(lease)}
	h.held, h.source, h.gap = held{owner, now.Add(lease)}, sourceID, hostGap
	return store.Claim{Held: true, Wait: lease, NextPoll: p.next}, nil
}

// RenewPoll implements store.Leases.
func (db *DB) RenewPoll(ctx context.Context, owner, sourceID, host string, lease time.Duration) error {
	if err := checkLease(ctx, "renew poll", lease, owner, sourceID, host); err != nil {
		return err
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	p := l.polls[sourceID]
	if p == nil || p.owner != owner { // expired but not taken is still owner's
		return fmt.Errorf("renew poll %s: %w", sourceID, store.ErrLeaseLost)
	}
	p.until = now.Add(lease)
	if h := l.hosts[host]; h != nil && h.owner == owner && h.source == sourceID {
		h.until = p.until
	}
	return nil
}

// ReleasePoll implements store.Leases.
func (db *DB) ReleasePoll(ctx context.Context, owner, sourceID, host string, next time.Time) error {
	if err := checkLease(ctx, "release poll", time.Second, owner, sourceID, host); err != nil {
		return err
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	p := l.polls[sourceID]
	if p == nil || p.owner != owner {
		return nil
	}
	p.held, p.next, p.released = held{}, next, true
	if h := l.hosts[host]; h != nil && h.owner == owner && h.source == sourceID {
		h.held, h.source, h.free = held{}, "", now.Add(h.gap)
	}
	return nil
}

// PollLeases implements store.Leases.
func (db *DB) PollLeases(ctx context.Context, owner string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("poll leases: %w", err)
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	now, n := time.Now(), 0
	for _, p := range l.polls {
		if p.owner == owner && p.active(now) {
			n++
		}
	}
	return n, nil
}

// HoldRole implements store.Leases.
func (db *DB) HoldRole(ctx context.Context, role, owner string, lease time.Duration) (bool, error) {
	if err := checkLease(ctx, "hold role", lease, owner, role); err != nil {
		return false, err
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	r := l.roles[role]
	if r == nil {
		r = &held{}
		l.roles[role] = r
	}
	if r.active(now) && r.owner != owner {
		return false, nil
	}
	*r = held{owner, now.Add(lease)}
	return true, nil
}

// ReleaseRole implements store.Leases.
func (db *DB) ReleaseRole(ctx context.Context, role, owner string) error {
	if err := checkLease(ctx, "release role", time.Second, owner, role); err != nil {
		return err
	}
	l := db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.roles[role]; r != nil && r.owner == owner {
		*r = held{}
	}
	return nil
}
