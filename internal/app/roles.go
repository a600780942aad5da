package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Roles are the work that must run on one instance only among those
// sharing a store (store.Leases.HoldRole): the WebSub hub's deliveries
// (one per subscriber per change) and the WebSub subscriber's requests to
// hubs (one subscription per source, not one per instance overwriting the
// others' callbacks). What reaches any instance from outside is answered
// there from the store: a subscription request to our hub (verified and
// stored by whichever instance took it), a hub's verification or delivery
// to the subscriber's callback (push reads the source's saved state, where
// the secret and the request were saved before it was sent).
const (
	roleHub        = "websub-hub"
	roleSubscriber = "websub-subscriber"
)

// roles is which roles this instance holds now.
type roles struct {
	hub atomic.Bool // the cache's changes are published to the hub's subscribers here
}

// roleLoop runs what the roles start until ctx ends. On a store one
// process holds, this instance holds every role: the subscriber runs, the
// hub delivers. On a shared one it takes and renews each role every
// fetch.lease/3, starts the subscriber when it gains its role and stops it
// (joined) when it loses it, and delivers the hub's changes only while it
// holds the hub's; when it gains the hub it delivers every subscribed
// topic's document once, since changes made while no instance held the
// role (a holder died) were delivered by none. It gives its roles up as it
// returns, so that another instance takes them at once.
func (a *App) roleLoop(ctx context.Context) {
	l := a.leases(a.Config())
	if l == nil { // New gave this instance the hub
		_ = a.push.Run(ctx)
		return
	}
	lease := a.Config().Fetch.Lease
	var subscriber worker
	defer func() {
		subscriber.stop()
		a.roles.hub.Store(false)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, r := range []string{roleHub, roleSubscriber} {
			if err := l.ReleaseRole(rctx, r, a.owner); err != nil {
				a.log.Warn("role not released", "role", r, "err", err)
			}
		}
	}()
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		hub, err := l.HoldRole(ctx, roleHub, a.owner, lease)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("role", "role", roleHub, "err", err)
		}
		if hub && !a.roles.hub.Swap(true) {
			a.log.Info("role gained", "role", roleHub, "instance", a.owner)
			a.publishSubscribed(ctx)
		} else if !hub && a.roles.hub.Swap(false) {
			a.log.Info("role lost", "role", roleHub, "instance", a.owner)
		}
		sub, err := l.HoldRole(ctx, roleSubscriber, a.owner, lease)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("role", "role", roleSubscriber, "err", err)
		}
		switch {
		case sub && !subscriber.running():
			a.log.Info("role gained", "role", roleSubscriber, "instance", a.owner)
			subscriber.start(ctx, func(ctx context.Context) { _ = a.push.Run(ctx) })
		case !sub && subscriber.running():
			a.log.Info("role lost", "role", roleSubscriber, "instance", a.owner)
			subscriber.stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publishSubscribed delivers the current document of every topic that has
// a subscriber (a hub that has just been taken over).
func (a *App) publishSubscribed(ctx context.Context) {
	subs, err := a.st.Subscriptions(ctx, "")
	if err != nil {
		a.log.Warn("websub catch-up", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, s := range subs {
		if seen[s.Topic] {
			continue
		}
		seen[s.Topic] = true
		if err := a.hub.Publish(s.Topic); err != nil {
			a.log.Warn("websub publish", "topic", s.Topic, "err", err)
		}
	}
}

// worker is one goroutine a role starts and stops (joined); for the
// goroutine that owns it only.
type worker struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

func (w *worker) running() bool { return w.cancel != nil }

func (w *worker) start(ctx context.Context, fn func(context.Context)) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Go(func() { fn(ctx) })
}

func (w *worker) stop() {
	if w.cancel != nil {
		w.cancel()
		w.wg.Wait()
		w.cancel = nil
	}
}
