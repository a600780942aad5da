package fetch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestPollLimitsHoldAcrossCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, origin, stop := runFixture(t, newMemStore())
		defer stop()
		p.gate = newGate(2)
		var wg sync.WaitGroup
		for _, u := range []string{"http://a.test/1", "http://a.test/2", "http://a.test/3",
			"http://b.test/1", "http://b.test/2", "http://c.test/1"} {
			wg.Go(func() {
				if r := p.Poll(t.Context(), feed.Source{ID: u, URL: u, Interval: time.Hour}); r.Err != nil {
					t.Errorf("Poll(%s): %v", u, r.Err)
				}
			})
		}
		wg.Wait()
		order, maxHost, maxAll := origin.snapshot()
		if got, want := len(order), 6; got != want {
			t.Fatalf("requests=%d, want %d", got, want)
		}
		for h, n := range maxHost {
			if n > 1 {
				t.Errorf("host %s had %d requests in flight, want at most 1", h, n)
			}
		}
		if got, want := maxAll, 2; got != want {
			t.Errorf("at most %d requests in flight, want %d (the concurrency)", got, want)
		}
		if n := len(p.gate.hosts); n != 0 {
			t.Errorf("gate still tracks %d hosts after all polls, want 0", n)
		}
	})
}

func TestGateEnterHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate(1)
		leave, err := g.enter(t.Context(), "a")
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"a", "b"} { // waiting on the host, then on the slot
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err := g.enter(ctx, host)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("enter(%s) while busy err=%v, want DeadlineExceeded", host, err)
			}
		}
		leave()
		if n := len(g.hosts); n != 0 {
			t.Fatalf("gate tracks %d hosts, want 0", n)
		}
		leave, err = g.enter(t.Context(), "b")
		if err != nil {
			t.Fatalf("enter after leave: %v", err)
		}
		leave()
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"가나다", 4, "가…"}, // 3-byte runes: never split one
		{"가나다", 6, "가나…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d)=%q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
