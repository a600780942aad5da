package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestRunTwoHoursPolitely runs the poller for two hours of simulated time
// against one origin carrying 100 sources with a 1h interval, with the
// defaults the config ships (1s host gap, 8 polls in flight). Each source
// must be asked once without validators and only conditionally afterwards,
// and the origin must never see two of our requests at once.
func TestRunTwoHoursPolitely(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const sources, interval, run = 100, time.Hour, 2 * time.Hour
		start := time.Now()
		serve := func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(50 * time.Millisecond) // the origin takes a moment
			etag := `"` + r.URL.Path + `-v1"`
			w.Header().Set("ETag", etag)
			w.Header().Set("Last-Modified", start.UTC().Format(http.TimeFormat))
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "item"+r.URL.Path)
		}
		store := newMemStore()
		p, rc, stop := bubbleFixture(t, serve, store, PollerOptions{Concurrency: 8, HostGap: time.Second})
		defer stop()
		var srcs []feed.Source
		for i := range sources {
			u := fmt.Sprintf("http://think-tank.test/feeds/%03d.xml", i)
			srcs = append(srcs, feed.Source{ID: fmt.Sprintf("s%03d", i), URL: u, Interval: interval})
		}

		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx, srcs) }()
		time.Sleep(run)
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}

		hits := rc.snapshot()
		perSource := map[string][]hit{}
		var unconditional, conditional, maxInflight int
		minGap := time.Duration(-1)
		for i, h := range hits {
			perSource[h.path] = append(perSource[h.path], h)
			if h.conditional {
				conditional++
			} else {
				unconditional++
			}
			maxInflight = max(maxInflight, h.inflight)
			if i > 0 {
				if g := h.at.Sub(hits[i-1].at); minGap < 0 || g < minGap {
					minGap = g
				}
			}
		}
		if got, want := len(perSource), sources; got != want {
			t.Fatalf("%d sources polled, want %d", got, want)
		}
		var counts []int
		for path, hs := range perSource {
			if hs[0].conditional {
				t.Errorf("%s: first request was conditional", path)
			}
			for j, h := range hs[1:] {
				if !h.conditional {
					t.Errorf("%s: request %d at +%v was unconditional", path, j+2, h.at.Sub(start))
				}
			}
			if len(hs) < 2 {
				t.Errorf("%s polled %d times in %v, want at least 2 with a %v interval", path, len(hs), run, interval)
			}
			counts = append(counts, len(hs))
		}
		if unconditional != sources {
			t.Errorf("%d unconditional requests, want exactly %d (one per source)", unconditional, sources)
		}
		if maxInflight != 1 {
			t.Errorf("the origin had up to %d of our requests in flight, want 1", maxInflight)
		}
		// The token bucket counts in float64 seconds: allow it a microsecond.
		if minGap < time.Second-time.Microsecond {
			t.Errorf("shortest gap between two requests %v, want at least the 1s host gap", minGap)
		}
		slices.Sort(counts)
		for _, s := range srcs {
			if st := store.state(s.ID); st.Errors != 0 || st.LastStatus != 304 && st.LastStatus != 200 {
				t.Errorf("%s: Errors=%d LastStatus=%d", s.ID, st.Errors, st.LastStatus)
			}
		}
		firstRound := hits[sources-1].at.Sub(start)
		t.Logf("2h simulated politeness run: %d sources on one host, %v interval, 1s host gap", sources, interval)
		t.Logf("  requests: %d total = %d unconditional (200) + %d conditional (If-None-Match/If-Modified-Since → 304)",
			len(hits), unconditional, conditional)
		t.Logf("  per source: min %d, max %d requests; first round took %v", counts[0], counts[len(counts)-1], firstRound)
		t.Logf("  most requests in flight at the origin: %d; shortest gap between two requests: %v; last request at +%v",
			maxInflight, minGap, hits[len(hits)-1].at.Sub(start).Round(time.Second))
	})
}
