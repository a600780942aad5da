package fetch

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultLease is PollerOptions.Lease when it is zero.
const DefaultLease = 30 * time.Second

// Claims share polling with other instances (internal/app adapts the
// store's leases to it, binding the instance's owner id, the lease and
// the host gap). Each method is one short call to the shared store.
type Claims interface {
	// Claim asks for the poll lease of sourceID, whose requests go to
	// host; seen is the NextPoll this instance last knew for it (zero:
	// none).
	Claim(ctx context.Context, sourceID, host string, seen time.Time) (Claim, error)
	// Renew extends a held lease; an error says it is lost.
	Renew(ctx context.Context, sourceID, host string) error
	// Release ends the lease after the poll's outcome is saved, recording
	// next as the source's NextPoll.
	Release(ctx context.Context, sourceID, host string, next time.Time) error
}

// Claim is the answer to a claim: held (poll now) or a time to come back.
type Claim struct {
	Held bool
	// Wait, when not held, is how long to wait before claiming again;
	// zero when another instance polled the source since: it is due at
	// NextPoll.
	Wait     time.Duration
	NextPoll time.Time
	// Host says the host was the reason (busy or resting on another
	// instance): Run holds back every source of the host for Wait.
	Host bool
}

// claimed is the outcome of claiming an entry Run is about to poll.
type claimed struct {
	Claim
	err error
}

// claim asks p's Claims for a source's lease; without Claims every claim
// is held (one process polls).
func (p *Poller) claim(ctx context.Context, sourceID, host string, seen time.Time) claimed {
	if p.opts.Claims == nil {
		return claimed{Claim: Claim{Held: true}}
	}
	c, err := p.opts.Claims.Claim(ctx, sourceID, host, seen)
	if err != nil {
		return claimed{err: fmt.Errorf("poll %s: claim: %w", sourceID, err)}
	}
	return claimed{Claim: c}
}

// leased runs poll while renewing the source's lease every Lease/3, then
// releases it with the result's NextPoll. A renewal that fails (the lease
// was lost: this instance stalled past it and another took the source)
// stops the renewing, not the poll: the poll finishes and saves its
// outcome, so a lost lease costs at most one request more to the origin
// (the taker's) and never a lost result. Without Claims it is poll.
func (p *Poller) leased(ctx context.Context, sourceID, host string, poll func() Result) Result {
	if p.opts.Claims == nil {
		return poll()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := p.opts.Claims.Renew(ctx, sourceID, host); err != nil {
					return // lost: see above
				}
			}
		}
	})
	res := poll()
	close(stop)
	wg.Wait()
	if err := p.opts.Claims.Release(ctx, sourceID, host, res.NextPoll); err != nil && res.Err == nil {
		// The outcome is saved; the lease expires on its own. Say so on
		// the result, which the caller logs.
		res.Warning = joinWarning(res.Warning, fmt.Sprintf("lease not released: %v", err))
	}
	return res
}

func joinWarning(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
