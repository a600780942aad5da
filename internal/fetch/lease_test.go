package fetch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// fakeClaims plays the other instances: each source's first claim gets
// the answer in first (none: held), later claims are held.
type fakeClaims struct {
	store *memStore
	mu    sync.Mutex
	first map[string]claimed
	// claims records each claim's seen, by source.
	claims map[string][]time.Time
	renews map[string]int
	lost   map[string]bool // Renew fails for these
	// released records each release's next and whether the poll's
	// outcome was saved by then.
	released map[string][]time.Time
	saved    map[string]bool
}

func newFakeClaims(s *memStore) *fakeClaims {
	return &fakeClaims{store: s, first: map[string]claimed{}, claims: map[string][]time.Time{},
		renews: map[string]int{}, lost: map[string]bool{}, released: map[string][]time.Time{}, saved: map[string]bool{}}
}

func (f *fakeClaims) Claim(_ context.Context, id, host string, seen time.Time) (Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims[id] = append(f.claims[id], seen)
	if c, ok := f.first[id]; ok && len(f.claims[id]) == 1 {
		return c.Claim, c.err
	}
	return Claim{Held: true}, nil
}

func (f *fakeClaims) Renew(_ context.Context, id, host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renews[id]++
	if f.lost[id] {
		return errors.New("lease lost")
	}
	return nil
}

func (f *fakeClaims) Release(_ context.Context, id, host string, next time.Time) error {
	st := f.store.state(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released[id] = append(f.released[id], next)
	f.saved[id] = st.LastPoll.After(time.Time{}) && st.NextPoll.Equal(next)
	return nil
}

// TestRunClaims shows Run sharing polling through Claims: a source
// another instance holds waits for the answer's time, one another
// instance polled is due at the NextPoll it recorded (and claimed again
// seeing it), a poll renews its lease every Lease/3 and releases it with
// its saved NextPoll, and a poll whose lease is lost still saves.
func TestRunClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := newMemStore()
		claims := newFakeClaims(store)
		otherNext := start.Add(20 * time.Minute)
		claims.first["held"] = claimed{Claim: Claim{Wait: 10 * time.Minute}}
		claims.first["other"] = claimed{Claim: Claim{NextPoll: otherNext}}
		claims.first["broken"] = claimed{err: errors.New("store down")}
		claims.first["hostbusy"] = claimed{Claim: Claim{Wait: 10 * time.Minute, Host: true}}
		claims.lost["lost"] = true
		var mu sync.Mutex
		var failed []string
		p, origin, stop := runFixtureOpts(t, store, PollerOptions{Concurrency: 8, Claims: claims, Lease: 600 * time.Millisecond,
			OnResult: func(r Result) {
				if r.Err != nil {
					mu.Lock()
					failed = append(failed, r.SourceID)
					mu.Unlock()
				}
			}})
		defer stop()
		sources := []feed.Source{
			{ID: "mine", URL: "http://a.test/mine", Interval: time.Hour},
			{ID: "held", URL: "http://b.test/held", Interval: time.Hour},
			{ID: "other", URL: "http://c.test/other", Interval: time.Hour},
			{ID: "lost", URL: "http://d.test/lost", Interval: time.Hour},
			{ID: "broken", URL: "http://e.test/broken", Interval: time.Hour},
			{ID: "hostbusy", URL: "http://f.test/busy", Interval: time.Hour},
			{ID: "hostmate", URL: "http://f.test/mate", Interval: time.Hour},
		}
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx, sources) }()

		time.Sleep(5 * time.Minute)
		order, _, _ := origin.snapshot()
		// Not held, other (polled elsewhere), nor either source of f.test,
		// whose host another instance is busy on.
		if got, want := strings.Join(order, " "), "a.test/mine d.test/lost e.test/broken"; !sameSet(got, want) {
			t.Errorf("requested in the first 5 minutes: %q, want %q", got, want)
		}
		time.Sleep(10 * time.Minute)
		order, _, _ = origin.snapshot()
		if !strings.Contains(strings.Join(order, " "), "b.test/held") {
			t.Errorf("the held source was not polled after its wait: %q", order)
		}
		if !strings.Contains(strings.Join(order, " "), "f.test/mate") {
			t.Errorf("the host's other source was not polled after the host's wait: %q", order)
		}
		if strings.Contains(strings.Join(order, " "), "c.test/other") {
			t.Errorf("the source another instance polled was polled again before its NextPoll: %q", order)
		}
		time.Sleep(10 * time.Minute)
		order, _, _ = origin.snapshot()
		if !strings.Contains(strings.Join(order, " "), "c.test/other") {
			t.Errorf("the source another instance polled was not polled at its NextPoll: %q", order)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}

		claims.mu.Lock()
		defer claims.mu.Unlock()
		if seen := claims.claims["other"]; len(seen) < 2 || !seen[1].Equal(otherNext) {
			t.Errorf("claims of other saw %v, want the second to see the answered NextPoll %s", seen, otherNext)
		}
		// A request takes 1s, the lease is 600ms: renewed every 200ms.
		if n := claims.renews["mine"]; n < 3 {
			t.Errorf("mine renewed %d times during a 1s poll with a 600ms lease, want at least 3", n)
		}
		if r := claims.released["mine"]; len(r) != 1 || !claims.saved["mine"] {
			t.Errorf("mine released %v (saved first: %v), want once, after its state was saved, with its NextPoll", r, claims.saved["mine"])
		}
		if st := store.state("lost"); st.LastStatus != 200 || !claims.saved["lost"] {
			t.Errorf("lost: status %d, saved %v: a poll whose lease is lost must still save", st.LastStatus, claims.saved["lost"])
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(strings.Join(failed, " "), "broken") {
			t.Errorf("a failed claim was not reported as a failed poll: failures %v", failed)
		}
		if st := store.state("broken"); st.LastStatus != 200 {
			t.Errorf("broken: status %d: the claim is retried after a third of the lease", st.LastStatus)
		}
	})
}

// sameSet compares two space-separated lists as sets.
func sameSet(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x) != len(y) {
		return false
	}
	m := map[string]int{}
	for _, s := range x {
		m[s]++
	}
	for _, s := range y {
		m[s]--
		if m[s] < 0 {
			return false
		}
	}
	return true
}

// TestPollAllClaims shows a poll staff asked for (PollAll) under Claims:
// a source another instance holds is claimed again a while later and
// polled once held, not beside that instance's poll; one another instance polled since is
// claimed again at once with the NextPoll it recorded and polled now,
// whatever its schedule; a claim that fails is the poll's error with no
// request; each poll renews and releases its lease after saving.
func TestPollAllClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := newMemStore()
		claims := newFakeClaims(store)
		otherNext := start.Add(20 * time.Minute)
		claims.first["held"] = claimed{Claim: Claim{Wait: 10 * time.Second}}
		claims.first["other"] = claimed{Claim: Claim{NextPoll: otherNext}}
		claims.first["broken"] = claimed{err: errors.New("store down")}
		p, origin, stop := runFixtureOpts(t, store, PollerOptions{Concurrency: 8, Claims: claims, Lease: 30 * time.Second})
		defer stop()
		sources := []feed.Source{
			{ID: "mine", URL: "http://a.test/mine", Interval: time.Hour},
			{ID: "held", URL: "http://b.test/held", Interval: time.Hour},
			{ID: "other", URL: "http://c.test/other", Interval: time.Hour},
			{ID: "broken", URL: "http://e.test/broken", Interval: time.Hour},
		}
		res := p.PollAll(t.Context(), sources)
		byID := map[string]Result{}
		for _, r := range res {
			byID[r.SourceID] = r
		}
		for _, id := range []string{"mine", "held", "other"} {
			if r := byID[id]; r.Err != nil || r.Status != 200 {
				t.Errorf("%s: status %d, err %v; want polled", id, r.Status, r.Err)
			}
		}
		if r := byID["broken"]; r.Err == nil || !strings.Contains(r.Err.Error(), "store down") {
			t.Errorf("broken: err %v, want the claim's error", r.Err)
		}
		// The fake refuses held's first claim only: the poll claims again
		// after staffClaimWait (less than the answer's 10s) and is held.
		if at := store.state("held").LastPoll.Sub(start); at < staffClaimWait {
			t.Errorf("held was polled %s after the start, before it claimed again (%s)", at, staffClaimWait)
		}
		order, _, _ := origin.snapshot()
		if strings.Contains(strings.Join(order, " "), "e.test/broken") {
			t.Errorf("broken was requested though its claim failed: %q", order)
		}
		claims.mu.Lock()
		defer claims.mu.Unlock()
		if n := len(claims.claims["held"]); n != 2 {
			t.Errorf("held was claimed %d times, want 2 (refused, then held)", n)
		}
		if seen := claims.claims["other"]; len(seen) != 2 || !seen[1].Equal(otherNext) {
			t.Errorf("claims of other saw %v, want a second claim seeing the answered NextPoll %s", seen, otherNext)
		}
		for _, id := range []string{"mine", "held", "other"} {
			if r := claims.released[id]; len(r) != 1 || !claims.saved[id] {
				t.Errorf("%s released %v (saved first: %v), want once, after its state was saved", id, r, claims.saved[id])
			}
		}
	})
}
