package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// testLeases runs the Leases concern's cases. Leases run on the backend's
// own clock (a database's, or the process's), not Options.Now: the cases
// that expire a lease wait for it, with leases of a few hundred
// milliseconds.
func testLeases(t *testing.T, b Backend) {
	for _, c := range leaseCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, b) })
	}
}

var leaseCases = []testCase{
	{"ClaimPoll", testClaimPoll},
	{"ClaimPollSeen", testClaimPollSeen},
	{"ClaimPollExpiry", testClaimPollExpiry},
	{"ClaimPollHost", testClaimPollHost},
	{"ClaimPollConcurrent", testClaimPollConcurrent},
	{"Roles", testRoles},
	{"LeasesBadInput", testLeasesBadInput},
}

const (
	longLease  = time.Minute
	shortLease = 300 * time.Millisecond
)

func claimPoll(t testing.TB, s store.Store, owner, src, host string, seen time.Time, lease, gap time.Duration) store.Claim {
	t.Helper()
	c, err := s.ClaimPoll(bg, owner, src, host, seen, lease, gap)
	if err != nil {
		t.Fatalf("ClaimPoll(%s, %s, %s): %v", owner, src, host, err)
	}
	return c
}

func testClaimPoll(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	if c := claimPoll(t, s, "A", "s1", "h1", time.Time{}, longLease, 0); !c.Held {
		t.Fatalf("first claim of s1: %+v, want held", c)
	}
	c := claimPoll(t, s, "B", "s1", "h2", time.Time{}, longLease, 0)
	if c.Held || c.Holder != "A" || c.Wait <= 0 || c.Wait > longLease || c.Host {
		t.Fatalf("B's claim of s1 that A holds: %+v, want not held, holder A, wait in (0, %s], not for the host", c, longLease)
	}
	if c := claimPoll(t, s, "A", "s1", "h1", time.Time{}, longLease, 0); !c.Held {
		t.Errorf("the holder's claim again: %+v, want held (a renewal)", c)
	}
	if n, err := s.PollLeases(bg, "A"); err != nil || n != 1 {
		t.Errorf("PollLeases(A) = %d, %v, want 1", n, err)
	}
	if err := s.RenewPoll(bg, "A", "s1", "h1", longLease); err != nil {
		t.Errorf("RenewPoll by the holder: %v", err)
	}
	if err := s.RenewPoll(bg, "B", "s1", "h1", longLease); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewPoll by another owner: %v, want ErrLeaseLost", err)
	}
	if err := s.ReleasePoll(bg, "B", "s1", "h1", epoch); err != nil {
		t.Errorf("ReleasePoll by another owner: %v, want nil (nothing done)", err)
	}
	if c := claimPoll(t, s, "B", "s1", "h2", time.Time{}, longLease, 0); c.Held || !c.NextPoll.IsZero() {
		t.Errorf("claim after another owner's release: %+v, want still A's, no NextPoll", c)
	}
	next := epoch.Add(time.Hour)
	if err := s.ReleasePoll(bg, "A", "s1", "h1", next); err != nil {
		t.Fatalf("ReleasePoll: %v", err)
	}
	if n, err := s.PollLeases(bg, "A"); err != nil || n != 0 {
		t.Errorf("PollLeases(A) after release = %d, %v, want 0", n, err)
	}
	if err := s.RenewPoll(bg, "A", "s1", "h1", longLease); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewPoll after release: %v, want ErrLeaseLost", err)
	}
	if c := claimPoll(t, s, "B", "s1", "h2", next, longLease, 0); !c.Held {
		t.Errorf("B's claim after A's release, seeing its NextPoll: %+v, want held", c)
	}
	if c := claimPoll(t, s, "A", "s2", "h1", time.Time{}, longLease, 0); !c.Held {
		t.Errorf("another source: %+v, want held", c)
	}
}

func testClaimPollSeen(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	next := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	claimPoll(t, s, "A", "s1", "h1", time.Time{}, longLease, 0)
	if err := s.ReleasePoll(bg, "A", "s1", "h1", next); err != nil {
		t.Fatal(err)
	}
	// B read the source before A polled it: it learns A's NextPoll.
	c := claimPoll(t, s, "B", "s1", "h1", time.Time{}, longLease, 0)
	if c.Held || c.Wait != 0 || !c.NextPoll.Equal(next) {
		t.Fatalf("claim with a stale NextPoll: %+v, want not held, wait 0, NextPoll %s", c, next)
	}
	c = claimPoll(t, s, "B", "s1", "h1", next.Add(-time.Nanosecond), longLease, 0)
	if c.Held || !c.NextPoll.Equal(next) {
		t.Errorf("claim with a NextPoll a nanosecond off: %+v, want not held", c)
	}
	if c := claimPoll(t, s, "B", "s1", "h1", next.In(time.FixedZone("x", 3600)), longLease, 0); !c.Held {
		t.Fatalf("claim seeing the released NextPoll (in another zone): %+v, want held", c)
	}
	if err := s.ReleasePoll(bg, "B", "s1", "h1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := claimPoll(t, s, "A", "s1", "h1", next, longLease, 0); c.Held || !c.NextPoll.IsZero() {
		t.Errorf("claim after a release with no NextPoll, seeing the old one: %+v, want not held, NextPoll zero", c)
	}
	if c := claimPoll(t, s, "A", "s1", "h1", time.Time{}, longLease, 0); !c.Held {
		t.Errorf("claim seeing no NextPoll: %+v, want held", c)
	}
}

func testClaimPollExpiry(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	claimPoll(t, s, "A", "s1", "h1", time.Time{}, shortLease, 0)
	c := claimPoll(t, s, "B", "s1", "h2", time.Time{}, longLease, 0)
	if c.Held || c.Wait > shortLease {
		t.Fatalf("claim of a held source: %+v, want not held, wait at most %s", c, shortLease)
	}
	time.Sleep(c.Wait + 50*time.Millisecond)
	if c := claimPoll(t, s, "B", "s1", "h2", time.Time{}, longLease, 0); !c.Held {
		t.Fatalf("claim after the holder's lease expired: %+v, want held", c)
	}
	if err := s.RenewPoll(bg, "A", "s1", "h1", longLease); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewPoll of an expired, taken lease: %v, want ErrLeaseLost", err)
	}
	if err := s.ReleasePoll(bg, "A", "s1", "h1", epoch); err != nil {
		t.Errorf("ReleasePoll of a lost lease: %v", err)
	}
	if c := claimPoll(t, s, "C", "s1", "h3", time.Time{}, longLease, 0); c.Held || c.Holder != "B" {
		t.Errorf("claim after the old holder's release: %+v, want still B's", c)
	}
	// A renewed lease does not expire at the first term's end.
	claimPoll(t, s, "A", "s2", "h4", time.Time{}, shortLease, 0)
	for range 3 {
		time.Sleep(shortLease / 3)
		if err := s.RenewPoll(bg, "A", "s2", "h4", shortLease); err != nil {
			t.Fatalf("RenewPoll: %v", err)
		}
	}
	if c := claimPoll(t, s, "B", "s2", "h5", time.Time{}, longLease, 0); c.Held {
		t.Errorf("claim of a renewed lease: %+v, want not held", c)
	}
}

func testClaimPollHost(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const gap = 400 * time.Millisecond
	claimPoll(t, s, "A", "s1", "host", time.Time{}, longLease, gap)
	c := claimPoll(t, s, "B", "s2", "host", time.Time{}, longLease, gap)
	if c.Held || c.Wait <= 0 || c.Wait > longLease || !c.Host {
		t.Fatalf("claim of another source on a host in flight: %+v, want not held, a wait, for the host", c)
	}
	if c := claimPoll(t, s, "B", "s3", "other", time.Time{}, longLease, gap); !c.Held {
		t.Errorf("claim on another host: %+v, want held", c)
	}
	released := time.Now()
	if err := s.ReleasePoll(bg, "A", "s1", "host", time.Time{}); err != nil {
		t.Fatal(err)
	}
	c = claimPoll(t, s, "B", "s2", "host", time.Time{}, longLease, gap)
	if c.Held || !c.Host {
		t.Fatalf("claim on a host within its gap: %+v, want not held, for the host", c)
	}
	if c.Wait <= 0 || c.Wait > gap {
		t.Errorf("claim within the gap: wait %s, want in (0, %s]", c.Wait, gap)
	}
	for !c.Held {
		time.Sleep(c.Wait)
		c = claimPoll(t, s, "B", "s2", "host", time.Time{}, longLease, gap)
	}
	if waited := time.Since(released); waited < gap {
		t.Errorf("host claimed %s after its last release, want at least the gap %s", waited, gap)
	}
	// A lost host lease (its holder died) expires with the poll lease.
	claimPoll(t, s, "C", "s4", "h2", time.Time{}, shortLease, 0)
	time.Sleep(shortLease + 50*time.Millisecond)
	if c := claimPoll(t, s, "D", "s5", "h2", time.Time{}, longLease, 0); !c.Held {
		t.Errorf("claim on a host whose holder's lease expired: %+v, want held", c)
	}
}

func testClaimPollConcurrent(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const owners, sources = 6, 10
	var mu sync.Mutex
	held := map[string][]string{}
	var wg sync.WaitGroup
	for o := range owners {
		wg.Go(func() {
			for i := range sources {
				owner, src := fmt.Sprintf("o%d", o), fmt.Sprintf("s%02d", i)
				c, err := s.ClaimPoll(bg, owner, src, "h"+src, time.Time{}, longLease, 0)
				if err != nil {
					t.Errorf("ClaimPoll: %v", err)
					return
				}
				if c.Held {
					mu.Lock()
					held[src] = append(held[src], owner)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range sources {
		src := fmt.Sprintf("s%02d", i)
		if len(held[src]) > 1 {
			t.Errorf("%s granted to %s: want one owner", src, strings.Join(held[src], ", "))
		}
	}
	// Every source was granted to someone, unless all its claims met a
	// claim in progress (skipped): then a claim now grants it.
	for i := range sources {
		src := fmt.Sprintf("s%02d", i)
		if len(held[src]) == 0 {
			if c := claimPoll(t, s, "late", src, "h"+src, time.Time{}, longLease, 0); !c.Held {
				t.Errorf("%s: granted to none, and a later claim is refused: %+v", src, c)
			}
		}
	}
}

func testRoles(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	hold := func(role, owner string, lease time.Duration) bool {
		t.Helper()
		ok, err := s.HoldRole(bg, role, owner, lease)
		if err != nil {
			t.Fatalf("HoldRole(%s, %s): %v", role, owner, err)
		}
		return ok
	}
	if !hold("hub", "A", longLease) {
		t.Fatal("first HoldRole: not held")
	}
	if hold("hub", "B", longLease) {
		t.Error("HoldRole of a role another holds: held")
	}
	if !hold("hub", "A", longLease) {
		t.Error("the holder's renewal: not held")
	}
	if !hold("subscriber", "B", longLease) {
		t.Error("another role: not held")
	}
	if err := s.ReleaseRole(bg, "hub", "B"); err != nil {
		t.Errorf("ReleaseRole by another owner: %v", err)
	}
	if hold("hub", "C", longLease) {
		t.Error("HoldRole after another owner's release: held")
	}
	if err := s.ReleaseRole(bg, "hub", "A"); err != nil {
		t.Fatal(err)
	}
	if !hold("hub", "C", shortLease) {
		t.Fatal("HoldRole after the holder's release: not held")
	}
	time.Sleep(shortLease + 50*time.Millisecond)
	if !hold("hub", "D", longLease) {
		t.Error("HoldRole after the holder's lease expired: not held")
	}
	if hold("hub", "C", longLease) {
		t.Error("the old holder's renewal after losing it: held")
	}
}

func testLeasesBadInput(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	long := strings.Repeat("x", store.MaxOwner+1)
	for _, c := range []struct {
		name, owner, src, host string
		lease                  time.Duration
	}{
		{"no owner", "", "s", "h", time.Second},
		{"no source", "A", "", "h", time.Second},
		{"no host", "A", "s", "", time.Second},
		{"long owner", long, "s", "h", time.Second},
		{"no lease", "A", "s", "h", 0},
	} {
		_, err := s.ClaimPoll(bg, c.owner, c.src, c.host, time.Time{}, c.lease, 0)
		wantCode(t, "ClaimPoll with "+c.name, err, feed.EINVALID)
	}
	_, err := s.HoldRole(bg, "", "A", time.Second)
	wantCode(t, "HoldRole with no role", err, feed.EINVALID)
	_, err = s.HoldRole(bg, "r", "", time.Second)
	wantCode(t, "HoldRole with no owner", err, feed.EINVALID)
	_, err = s.HoldRole(bg, "r", "A", 0)
	wantCode(t, "HoldRole with no lease", err, feed.EINVALID)
	done, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.ClaimPoll(done, "A", "s", "h", time.Time{}, time.Second, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("ClaimPoll with a done context: %v", err)
	}
	if _, err := s.HoldRole(done, "r", "A", time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("HoldRole with a done context: %v", err)
	}
	if c := claimPoll(t, s, "A", "s", "h", time.Time{}, time.Second, 0); !c.Held {
		t.Errorf("claim after refused ones: %+v, want held (nothing was written)", c)
	}
}
