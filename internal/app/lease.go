package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/store"
)

// Several instances on one store share polling through the store's leases
// (store.Leases): each App run is an owner, named by a random id plus its
// host name and pid (for /status and the log), and its poller claims each
// due source before polling it (fetch.Claims). A store one process holds
// (bbolt) needs none of it: the App claims only on a PostgreSQL store.

// newOwner is this run's owner id: host/pid/random.
func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// leases is the store's leases when cfg's store is shared by instances,
// else nil.
func (a *App) leases(cfg config.Config) store.Leases { return sharedLeases(cfg, a.st) }

// sharedLeases is st's leases when cfg's store is shared by instances
// (PostgreSQL), else nil.
func sharedLeases(cfg config.Config, st any) store.Leases {
	l, ok := st.(store.Leases)
	if !ok || !cfg.Storage.IsPostgres() {
		return nil
	}
	return l
}

// claimsOf is the fetch.Claims of a poller of owner on st, or nil when st
// is not shared (one process).
func claimsOf(cfg config.Config, st any, owner string) fetch.Claims {
	l := sharedLeases(cfg, st)
	if l == nil {
		return nil
	}
	return pollClaims{l: l, owner: owner, lease: cfg.Fetch.Lease, gap: cfg.Fetch.HostGap}
}

// pollClaims binds the store's leases to this owner and the fetch
// settings: the fetch.Claims of the App's poller.
type pollClaims struct {
	l          store.Leases
	owner      string
	lease, gap time.Duration
}

var _ fetch.Claims = pollClaims{}

func (c pollClaims) Claim(ctx context.Context, sourceID, host string, seen time.Time) (fetch.Claim, error) {
	r, err := c.l.ClaimPoll(ctx, c.owner, sourceID, host, seen, c.lease, c.gap)
	return fetch.Claim{Held: r.Held, Wait: r.Wait, NextPoll: r.NextPoll, Host: r.Host}, err
}

func (c pollClaims) Renew(ctx context.Context, sourceID, host string) error {
	return c.l.RenewPoll(ctx, c.owner, sourceID, host, c.lease)
}

func (c pollClaims) Release(ctx context.Context, sourceID, host string, next time.Time) error {
	return c.l.ReleasePoll(ctx, c.owner, sourceID, host, next)
}

// indexBuilds binds the store's role leases to this owner: one instance
// at a time builds a membership index several need (membership.Builds).
type indexBuilds struct {
	l     store.Leases
	owner string
	lease time.Duration
}

func (b indexBuilds) role(index string) string { return "index-build:" + index }

func (b indexBuilds) Hold(ctx context.Context, index string) (bool, error) {
	return b.l.HoldRole(ctx, b.role(index), b.owner, b.lease)
}

func (b indexBuilds) Release(ctx context.Context, index string) error {
	return b.l.ReleaseRole(ctx, b.role(index), b.owner)
}

// builds is the membership index's Builds for cfg, or nil (one process).
func (a *App) builds(cfg config.Config) membership.Builds {
	l := a.leases(cfg)
	if l == nil {
		return nil
	}
	return indexBuilds{l: l, owner: a.owner, lease: cfg.Fetch.Lease}
}

// claims is the poller's Claims for cfg, or nil (one process).
func (a *App) claims(cfg config.Config) fetch.Claims { return claimsOf(cfg, a.st, a.owner) }

// heldLeases is how many poll leases this run holds now, for /status; -1
// when the store is not shared or cannot say.
func (a *App) heldLeases(ctx context.Context) int {
	l := a.leases(a.Config())
	if l == nil {
		return -1
	}
	n, err := l.PollLeases(ctx, a.owner)
	if err != nil {
		return -1
	}
	return n
}
