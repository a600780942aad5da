package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// newOptsPoller is newTestPoller with PollerOptions of the test's choosing.
func newOptsPoller(t *testing.T, p Parser, s Store, r float64, o PollerOptions) (*Poller, *clock) {
	t.Helper()
	clk := newClock()
	o.Now = clk.Now
	pl := NewPoller(testClient(t, Options{MaxBody: 1 << 16}), p, s, o)
	pl.sched.rand = func() float64 { return r }
	return pl, clk
}

func TestPollNextPollAfterRefusal(t *testing.T) {
	const iv = 10 * time.Minute
	later := newClock().Now().Add(3 * time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"503-seconds", 503, "7200", 2 * time.Hour},
		{"429-http-date", 429, later, 3 * time.Hour},
		{"429-capped", 429, "999999999999", DefaultMaxInterval},
		{"429-shorter-than-backoff", 429, "5", iv},
		{"500-ignores-retry-after", 500, "7200", iv},
		{"503-garbage", 503, "soon", iv},
		{"503-date-in-the-past", 503, "Mon, 02 Jan 2006 15:04:05 GMT", iv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(tt.status)
			})
			store := newMemStore()
			p, clk := newTestPoller(t, &lineParser{}, store, 0.5) // 0.5: no failure jitter
			r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: iv})
			if r.Err == nil || r.Status != tt.status {
				t.Fatalf("Err=%v Status=%d, want an error and %d", r.Err, r.Status, tt.status)
			}
			if got := r.NextPoll.Sub(clk.Now()); got != tt.want {
				t.Fatalf("next in %v, want %v", got, tt.want)
			}
			st := store.state("s")
			if got := st.NextPoll.Sub(clk.Now()); got != tt.want {
				t.Fatalf("state next in %v, want %v", got, tt.want)
			}
			if honoured := tt.status != 500 && retryAfter(http.Header{"Retry-After": {tt.retryAfter}}, clk.Now()) > 0; honoured != strings.Contains(st.Warning, "Retry-After") {
				t.Errorf("Warning=%q, want it to mention Retry-After: %v", st.Warning, honoured)
			}
		})
	}
}

func TestPollNextPollHonoursExpires(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the origin's clock is off: only the difference counts
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"expires-from-date", map[string]string{"Date": date.Format(http.TimeFormat), "Expires": date.Add(2 * time.Hour).Format(http.TimeFormat)}, 2 * time.Hour},
		{"expires-without-date", map[string]string{"Date": "", "Expires": newClock().Now().Add(3 * time.Hour).Format(http.TimeFormat)}, 3 * time.Hour},
		{"expires-past", map[string]string{"Date": date.Format(http.TimeFormat), "Expires": date.Add(-time.Hour).Format(http.TimeFormat)}, 10 * time.Minute},
		{"expires-zero", map[string]string{"Expires": "0"}, 10 * time.Minute},
		{"expires-with-no-cache", map[string]string{"Cache-Control": "no-cache", "Date": date.Format(http.TimeFormat), "Expires": date.Add(2 * time.Hour).Format(http.TimeFormat)}, 10 * time.Minute},
		{"expires-capped", map[string]string{"Date": date.Format(http.TimeFormat), "Expires": date.Add(100 * 24 * time.Hour).Format(http.TimeFormat)}, 6 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header()[k] = []string{v}
					if v == "" {
						w.Header()[k] = nil // net/http then sends no Date
					}
				}
				io.WriteString(w, "a")
			})
			p, clk := newOptsPoller(t, &lineParser{}, newMemStore(), 0, PollerOptions{MaxInterval: 6 * time.Hour})
			r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: 10 * time.Minute})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := r.NextPoll.Sub(clk.Now()); got != tt.want {
				t.Fatalf("next in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPollTTLSurvives304(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "a")
	})
	parser := &lineParser{ttl: 90}
	p, clk := newTestPoller(t, parser, newMemStore(), 0)
	src := feed.Source{ID: "s", URL: o.URL, Interval: 10 * time.Minute}
	for i := range 2 {
		r := p.Poll(t.Context(), src)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if got, want := r.NextPoll.Sub(clk.Now()), 90*time.Minute; got != want {
			t.Fatalf("poll %d (status %d): next in %v, want %v (the feed's <ttl>)", i+1, r.Status, got, want)
		}
	}
	if got, want := parser.calls.Load(), int32(1); got != want {
		t.Errorf("parser calls=%d, want %d", got, want)
	}
}

func TestPollSpreadsSourcesOfOneHost(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	clk := newClock()
	p := NewPoller(testClient(t, Options{}), &lineParser{}, newMemStore(), PollerOptions{Now: clk.Now})
	first, last := time.Time{}, time.Time{}
	for i := range 40 {
		id := fmt.Sprint("s", i)
		r := p.Poll(t.Context(), feed.Source{ID: id, URL: o.URL + "/" + id, Interval: time.Hour})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if first.IsZero() || r.NextPoll.Before(first) {
			first = r.NextPoll
		}
		if r.NextPoll.After(last) {
			last = r.NextPoll
		}
	}
	// Polled at the same instant, 40 sources with a 1h interval are due
	// again spread over up to 3 minutes (5% of the interval, capped).
	if spread := last.Sub(first); spread < time.Minute || spread > maxSuccessJitter {
		t.Fatalf("next polls spread over %v, want between 1m and %v", spread, maxSuccessJitter)
	}
	if first.Sub(clk.Now()) < time.Hour {
		t.Fatalf("earliest next poll in %v, want at least the interval", first.Sub(clk.Now()))
	}
}

func TestPollAdaptive(t *testing.T) {
	var mu sync.Mutex
	body := "a"
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, body)
	})
	store := newMemStore()
	p, clk := newOptsPoller(t, &lineParser{}, store, 0, PollerOptions{Adaptive: true, MaxInterval: 12 * time.Hour})
	src := feed.Source{ID: "s", URL: o.URL, Interval: 10 * time.Minute}
	step := func(advance time.Duration, newBody string, want time.Duration) {
		t.Helper()
		clk.Advance(advance)
		if newBody != "" {
			mu.Lock()
			body = newBody
			mu.Unlock()
		}
		r := p.Poll(t.Context(), src)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if got := r.NextPoll.Sub(clk.Now()); got != want {
			t.Fatalf("after %v: next in %v, want %v", advance, got, want)
		}
	}
	step(0, "", 10*time.Minute)               // first poll: the feed just changed
	step(4*time.Hour, "", time.Hour)          // quiet for 4h: a quarter of that
	step(200*time.Hour, "", 12*time.Hour)     // quiet for long: capped at the maximum
	step(time.Minute, "a\nb", 10*time.Minute) // it changed: back to the interval
	if got := store.state("s").LastChange; !got.Equal(clk.Now()) {
		t.Errorf("LastChange=%v, want %v", got, clk.Now())
	}

	// Without Adaptive the interval stands however quiet the feed is.
	p2, clk2 := newOptsPoller(t, &lineParser{}, newMemStore(), 0, PollerOptions{})
	p2.Poll(t.Context(), src)
	clk2.Advance(100 * time.Hour)
	if r := p2.Poll(t.Context(), src); r.NextPoll.Sub(clk2.Now()) != 10*time.Minute {
		t.Errorf("non-adaptive next in %v, want 10m", r.NextPoll.Sub(clk2.Now()))
	}
}

func TestPollGoneRetires(t *testing.T) {
	var mu sync.Mutex
	gone := true
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if gone || r.URL.Path == "/old" {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		io.WriteString(w, "a")
	})
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0.5)
	src := feed.Source{ID: "s", URL: o.URL + "/old", Interval: time.Minute}

	r := p.Poll(t.Context(), src)
	var se *StatusError
	if !errors.As(r.Err, &se) || se.Code != 410 || !r.Retired || !r.NextPoll.IsZero() {
		t.Fatalf("Err=%v Retired=%v NextPoll=%v, want a 410 StatusError, retired, no next poll", r.Err, r.Retired, r.NextPoll)
	}
	st := store.state("s")
	if !st.Retired || st.LastStatus != 410 || !strings.Contains(st.Warning, "retired") {
		t.Fatalf("state Retired=%v LastStatus=%d Warning=%q, want retired after 410", st.Retired, st.LastStatus, st.Warning)
	}
	mu.Lock()
	gone = false // even if the origin came back, the old URL is not asked again
	mu.Unlock()

	if r := p.Poll(t.Context(), src); !r.Retired || r.Err != nil {
		t.Errorf("Poll of a retired source: Retired=%v Err=%v, want true nil", r.Retired, r.Err)
	}
	if rs := p.PollAll(t.Context(), []feed.Source{src}); len(rs) != 1 || !rs[0].Retired {
		t.Errorf("PollAll of a retired source: %+v, want one retired result", rs)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx, []feed.Source{src}); err != nil {
		t.Fatal(err)
	}
	if n := len(o.requests()); n != 1 {
		t.Fatalf("origin got %d requests, want 1 (none after the 410)", n)
	}

	// A new URL in the config starts the source afresh.
	src.URL = o.URL + "/new"
	r = p.Poll(t.Context(), src)
	if r.Err != nil || r.Retired {
		t.Fatalf("after a config change Err=%v Retired=%v, want a normal poll", r.Err, r.Retired)
	}
	if st := store.state("s"); st.Retired || st.ConfiguredURL != src.URL || st.Errors != 0 {
		t.Fatalf("state Retired=%v ConfiguredURL=%q Errors=%d, want un-retired for %q", st.Retired, st.ConfiguredURL, st.Errors, src.URL)
	}
}

func TestPollSendsURLVerbatim(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "tracked"})
		io.WriteString(w, "a")
	})
	p, _ := newTestPoller(t, &lineParser{}, newMemStore(), 0)
	src := feed.Source{ID: "s", URL: o.URL + "/feed.php?cat=7&lang=ko", Interval: time.Hour}
	for range 2 {
		if r := p.Poll(t.Context(), src); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for i, r := range o.requests() {
		if got, want := r.RequestURI, "/feed.php?cat=7&lang=ko"; got != want {
			t.Errorf("request %d URI=%q, want %q", i, got, want)
		}
		if c := r.Header.Get("Cookie"); c != "" {
			t.Errorf("request %d sent Cookie %q, want none", i, c)
		}
	}
}
