package fetch

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Host slowdown: when slowAfter or more sources of one host were answered
// 429 Too Many Requests within slowWindow, the whole host is slowed: every
// request to it waits out the longest Retry-After received, and requests
// are spaced by slowGap (or by slowFactor times the usual gap, if longer)
// until fewer than slowAfter of its sources stand refused.
const (
	slowAfter  = 2
	slowWindow = time.Hour
	slowGap    = 30 * time.Second
	slowFactor = 10
)

// gate enforces a Poller's limits across all its callers (Run, PollAll and
// direct Polls alike): at most cap(slots) polls in flight, at most one per
// host, and a minimum gap between the starts of two requests to one host
// (a token bucket of golang.org/x/time/rate), widened for a host that
// refuses several of our sources with 429.
type gate struct {
	slots chan struct{}
	gap   time.Duration // 0: no pacing beyond one request at a time
	mu    sync.Mutex
	hosts map[string]*hostLock
	// sweepAt is the size of hosts at which idle entries are dropped.
	sweepAt int
}

// hostLock is one host's turn and pacing; users counts holders and waiters.
// An entry is dropped when nobody needs it and it holds no pacing state that
// still matters.
type hostLock struct {
	turn  chan struct{} // capacity 1: holding the token is having the turn
	users int
	lim   *rate.Limiter // nil without a gap
	// refused maps the sources of this host answered 429 to when.
	refused map[string]time.Time
	// until is when a slowed host may be asked again.
	until time.Time
}

func newGate(concurrency int) *gate {
	return newPacedGate(concurrency, 0)
}

func newPacedGate(concurrency int, gap time.Duration) *gate {
	return &gate{slots: make(chan struct{}, concurrency), gap: max(gap, 0), hosts: map[string]*hostLock{}, sweepAt: 64}
}

// entry returns host's lock, creating it; g.mu must be held.
func (g *gate) entry(host string) *hostLock {
	h := g.hosts[host]
	if h == nil {
		if len(g.hosts) >= g.sweepAt {
			g.sweep(time.Now())
			g.sweepAt = max(64, 2*len(g.hosts))
		}
		h = &hostLock{turn: make(chan struct{}, 1)}
		if g.gap > 0 {
			h.lim = rate.NewLimiter(rate.Every(g.gap), 1)
		}
		g.hosts[host] = h
	}
	return h
}

// idle reports whether h may be forgotten at now: no user, a full token
// bucket, no slowdown in force. g.mu must be held.
func (h *hostLock) idle(now time.Time) bool {
	return h.users == 0 && len(h.refused) == 0 && !h.until.After(now) &&
		(h.lim == nil || h.lim.TokensAt(now) >= 1)
}

func (g *gate) sweep(now time.Time) {
	for host, h := range g.hosts {
		h.forget(now)
		if h.idle(now) {
			delete(g.hosts, host)
		}
	}
}

// forget drops refusals older than slowWindow and restores the usual pace
// when the host no longer counts as slowed. g.mu must be held.
func (h *hostLock) forget(now time.Time) {
	for src, at := range h.refused {
		if now.Sub(at) > slowWindow {
			delete(h.refused, src)
		}
	}
}

func (h *hostLock) slowed() bool { return len(h.refused) >= slowAfter }

// enter waits for host's turn, then for its pace (the host's gap and any
// slowdown), then for a global slot, and returns the function that gives
// both back. It returns ctx.Err() if ctx ends first. Taking the host first
// means no global slot is held while waiting on a busy or paced host.
func (g *gate) enter(ctx context.Context, host string) (leave func(), err error) {
	g.mu.Lock()
	h := g.entry(host)
	h.users++
	g.mu.Unlock()

	release := func() {
		g.mu.Lock()
		h.users--
		if h.idle(time.Now()) {
			delete(g.hosts, host)
		}
		g.mu.Unlock()
	}
	select {
	case h.turn <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	if err := g.pace(ctx, h); err != nil {
		<-h.turn
		release()
		return nil, err
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		<-h.turn
		release()
		return nil, ctx.Err()
	}
	return func() {
		<-g.slots
		<-h.turn
		release()
	}, nil
}

// pace waits, holding h's turn, until a slowed host may be asked again and
// its token bucket allows a request.
func (g *gate) pace(ctx context.Context, h *hostLock) error {
	g.mu.Lock()
	now := time.Now()
	h.forget(now)
	var wait time.Duration
	if h.slowed() {
		wait = h.until.Sub(now)
		if h.lim != nil {
			h.lim.SetLimitAt(now, rate.Every(max(slowGap, slowFactor*g.gap)))
		} else {
			// A host paced by turn alone still gets the slow gap.
			h.lim = rate.NewLimiter(rate.Every(slowGap), 1)
		}
	} else if h.lim != nil {
		h.lim.SetLimitAt(now, rate.Every(g.gap))
		if g.gap == 0 {
			h.lim = nil
		}
	}
	lim := h.lim
	g.mu.Unlock()

	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if lim != nil {
		return lim.Wait(ctx)
	}
	return nil
}

// refused records that sourceID on host was answered 429 with a Retry-After
// of wait (0 when none). Once slowAfter sources of the host stand refused,
// the whole host waits out the longest Retry-After and is paced slowly.
func (g *gate) refused(host, sourceID string, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.entry(host)
	now := time.Now()
	if h.refused == nil {
		h.refused = map[string]time.Time{}
	}
	h.refused[sourceID] = now
	h.forget(now)
	if h.slowed() && now.Add(wait).After(h.until) {
		h.until = now.Add(wait)
	}
}

// answered records that sourceID on host got a response other than 429:
// it no longer counts towards slowing the host.
func (g *gate) answered(host, sourceID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.hosts[host]
	if !ok || h.refused == nil {
		return
	}
	delete(h.refused, sourceID)
	if !h.slowed() {
		h.until = time.Time{}
	}
	if h.idle(time.Now()) {
		delete(g.hosts, host)
	}
}
