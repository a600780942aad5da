package fetch

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// newTestPoller returns a poller on a fake clock whose jitter draws are
// always r, so next-poll times are exact.
func newTestPoller(t *testing.T, p Parser, s Store, r float64) (*Poller, *clock) {
	t.Helper()
	clk := newClock()
	pl := NewPoller(testClient(t, Options{MaxBody: 1 << 16}), p, s, PollerOptions{Now: clk.Now})
	pl.sched.rand = func() float64 { return r }
	return pl, clk
}

func TestPollConditionalGET(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("ETag", `"v2"`) // refreshed validator, no Last-Modified
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Sun, 01 Mar 2026 08:00:00 GMT")
		io.WriteString(w, "a\nb")
	})
	parser, store := &lineParser{}, newMemStore()
	p, _ := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}

	first := p.Poll(t.Context(), src)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	if got, want := first.Counts, (feed.PollCounts{New: 2}); got != want {
		t.Errorf("first Counts=%+v, want %+v", got, want)
	}
	second := p.Poll(t.Context(), src)
	if second.Err != nil {
		t.Fatal(second.Err)
	}

	reqs := o.requests()
	if got, want := len(reqs), 2; got != want {
		t.Fatalf("requests=%d, want %d", got, want)
	}
	if got, want := reqs[1].Header.Get("If-None-Match"), `"v1"`; got != want {
		t.Errorf("If-None-Match=%q, want %q", got, want)
	}
	if got, want := reqs[1].Header.Get("If-Modified-Since"), "Sun, 01 Mar 2026 08:00:00 GMT"; got != want {
		t.Errorf("If-Modified-Since=%q, want %q", got, want)
	}
	if !second.NotModified || second.Status != 304 {
		t.Errorf("second NotModified=%v Status=%d, want true 304", second.NotModified, second.Status)
	}
	st := store.state("s")
	if got, want := st.ETag, `"v2"`; got != want {
		t.Errorf("ETag=%q, want %q (refreshed by the 304)", got, want)
	}
	if got, want := st.LastModified, "Sun, 01 Mar 2026 08:00:00 GMT"; got != want {
		t.Errorf("LastModified=%q, want %q (kept)", got, want)
	}
	if got, want := store.itemCount("s"), 2; got != want {
		t.Errorf("items=%d, want %d (kept on 304)", got, want)
	}
	if got, want := parser.calls.Load(), int32(1); got != want {
		t.Errorf("parser calls=%d, want %d", got, want)
	}
	if got, want := st.LastStatus, 304; got != want {
		t.Errorf("LastStatus=%d, want %d", got, want)
	}
	if st.Title != "T s" {
		t.Errorf("Title=%q, want %q (kept from the 200)", st.Title, "T s")
	}
}

func TestPollSkipsIdenticalBody(t *testing.T) {
	var mu sync.Mutex
	n := 0
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		w.Header().Set("ETag", []string{`"e1"`, `"e2"`, `"e3"`}[min(n-1, 2)])
		mu.Unlock()
		// The origin ignores If-None-Match, as many do.
		io.WriteString(w, "a\nb")
	})
	parser, store := &lineParser{}, newMemStore()
	p, _ := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL, Interval: time.Hour}

	if r := p.Poll(t.Context(), src); r.Err != nil || r.Skipped {
		t.Fatalf("first poll Err=%v Skipped=%v, want nil false", r.Err, r.Skipped)
	}
	r := p.Poll(t.Context(), src)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if !r.Skipped || r.Status != 200 || r.Counts != (feed.PollCounts{}) {
		t.Errorf("second Skipped=%v Status=%d Counts=%+v, want true 200 zero", r.Skipped, r.Status, r.Counts)
	}
	if got, want := parser.calls.Load(), int32(1); got != want {
		t.Errorf("parser calls=%d, want %d", got, want)
	}
	if got, want := store.state("s").ETag, `"e2"`; got != want {
		t.Errorf("ETag=%q, want %q (refreshed)", got, want)
	}
	if got, want := store.itemCount("s"), 2; got != want {
		t.Errorf("items=%d, want %d", got, want)
	}
}

// TestPollReparsesWhenSelectorsChange: an unchanged page is skipped as an
// unchanged feed is, but not after its scrape settings changed.
func TestPollReparsesWhenSelectorsChange(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a\nb") })
	parser, store := &lineParser{}, newMemStore()
	p, _ := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL, Interval: time.Hour, Scrape: &feed.Scrape{Item: "li", Title: "a", Link: "a@href"}}

	for i, tc := range []struct {
		scrape  *feed.Scrape
		skipped bool
	}{
		{&feed.Scrape{Item: "li", Title: "a", Link: "a@href"}, false},
		{&feed.Scrape{Item: "li", Title: "a", Link: "a@href"}, true},
		{&feed.Scrape{Item: "li", Title: "h3 a", Link: "a@href"}, false},
		{nil, false}, // no longer scraped
		{nil, true},
	} {
		src.Scrape = tc.scrape
		r := p.Poll(t.Context(), src)
		if r.Err != nil || r.Skipped != tc.skipped {
			t.Errorf("poll %d: Err=%v Skipped=%v, want Skipped=%v", i+1, r.Err, r.Skipped, tc.skipped)
		}
	}
	if got, want := parser.calls.Load(), int32(3); got != want {
		t.Errorf("parser calls=%d, want %d", got, want)
	}
}

func TestPollRecordsFailures(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		wantErr    error // matched with errors.Is when non-nil
		wantStatus int
	}{
		{"too-large", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("x\n", 1<<16))
		}, ErrTooLarge, 200},
		{"server-error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, nil, 500},
		{"parse-error", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "! not xml")
		}, nil, 200},
		{"parser-panic", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "panic")
		}, nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, tt.h)
			store := newMemStore()
			// Items from an earlier good poll must survive the failure.
			store.SavePoll(t.Context(), "s", []feed.Item{{Key: "id:old"}}, feed.SourceState{SourceID: "s", ETag: `"old"`, BodyHash: "h"})
			p, clk := newTestPoller(t, &lineParser{}, store, 0.5)
			r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: 10 * time.Minute})
			if r.Err == nil {
				t.Fatal("Poll succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(r.Err, tt.wantErr) {
				t.Errorf("Err=%v, want %v", r.Err, tt.wantErr)
			}
			st := store.state("s")
			if st.Errors != 1 || st.LastError == "" || st.LastStatus != tt.wantStatus || r.Status != tt.wantStatus {
				t.Errorf("state Errors=%d LastError=%q LastStatus=%d Result.Status=%d, want 1, non-empty, %d, %d",
					st.Errors, st.LastError, st.LastStatus, r.Status, tt.wantStatus, tt.wantStatus)
			}
			if !st.LastPoll.Equal(clk.Now()) || !st.LastSuccess.IsZero() {
				t.Errorf("LastPoll=%v LastSuccess=%v, want %v and zero", st.LastPoll, st.LastSuccess, clk.Now())
			}
			if st.ETag != `"old"` || st.BodyHash != "h" {
				t.Errorf("ETag=%q BodyHash=%q, want the previous validators kept", st.ETag, st.BodyHash)
			}
			if got, want := store.itemCount("s"), 1; got != want {
				t.Errorf("items=%d, want %d", got, want)
			}
			if !r.NextPoll.Equal(st.NextPoll) || !st.NextPoll.After(clk.Now()) {
				t.Errorf("Result.NextPoll=%v state.NextPoll=%v, want equal and after now", r.NextPoll, st.NextPoll)
			}
		})
	}
}

func TestPollRecordsConnectionFailure(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	url := o.URL
	o.Close() // nothing listens there any more
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0.5)
	r := p.Poll(t.Context(), feed.Source{ID: "s", URL: url, Interval: time.Hour})
	if r.Err == nil || r.Status != 0 {
		t.Fatalf("Err=%v Status=%d, want an error and 0", r.Err, r.Status)
	}
	if st := store.state("s"); st.Errors != 1 || st.LastStatus != 0 || st.URL != url {
		t.Fatalf("state Errors=%d LastStatus=%d URL=%q, want 1 0 %q", st.Errors, st.LastStatus, st.URL, url)
	}
}

func TestPollBacksOffThenRecovers(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusInternalServerError
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if status != 200 {
			w.WriteHeader(status)
			return
		}
		io.WriteString(w, "a")
	})
	store := newMemStore()
	p, clk := newTestPoller(t, &lineParser{}, store, 0.5) // 0.5: no failure jitter
	src := feed.Source{ID: "s", URL: o.URL, Interval: 10 * time.Minute}

	for i, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute} {
		r := p.Poll(t.Context(), src)
		var se *StatusError
		if !errors.As(r.Err, &se) || se.Code != 500 {
			t.Fatalf("poll %d Err=%v, want a 500 StatusError", i+1, r.Err)
		}
		st := store.state("s")
		if got := st.Errors; got != i+1 {
			t.Fatalf("poll %d Errors=%d, want %d", i+1, got, i+1)
		}
		if got := st.NextPoll.Sub(clk.Now()); got != want {
			t.Fatalf("poll %d next in %v, want %v", i+1, got, want)
		}
		clk.Advance(time.Hour)
	}

	mu.Lock()
	status = 200
	mu.Unlock()
	r := p.Poll(t.Context(), src)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	st := store.state("s")
	if st.Errors != 0 || st.LastError != "" || st.LastStatus != 200 || !st.LastSuccess.Equal(clk.Now()) {
		t.Fatalf("after success Errors=%d LastError=%q LastStatus=%d LastSuccess=%v, want 0 \"\" 200 %v",
			st.Errors, st.LastError, st.LastStatus, st.LastSuccess, clk.Now())
	}
	// 10m plus half of the 5% jitter (30s).
	if got, want := st.NextPoll.Sub(clk.Now()), 10*time.Minute+15*time.Second; got != want {
		t.Fatalf("next in %v, want %v", got, want)
	}
}

func TestPollNextPollHonoursTTLAndMaxAge(t *testing.T) {
	tests := []struct {
		name         string
		ttl          int // minutes
		cacheControl string
		want         time.Duration
	}{
		{"interval", 0, "", 10 * time.Minute},
		{"shorter-hints-ignored", 5, "max-age=60", 10 * time.Minute},
		{"ttl", 90, "", 90 * time.Minute},
		{"max-age", 30, "public, max-age=7200", 2 * time.Hour},
		{"no-cache-ignores-max-age", 0, "max-age=7200, no-cache", 10 * time.Minute},
		{"capped", 0, "max-age=31536000", DefaultMaxInterval},
		{"hostile-ttl", math.MaxInt, "", DefaultMaxInterval},
		{"negative-ttl", -5, "", 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.cacheControl != "" {
					w.Header().Set("Cache-Control", tt.cacheControl)
				}
				io.WriteString(w, "a")
			})
			store := newMemStore()
			p, clk := newTestPoller(t, &lineParser{ttl: tt.ttl}, store, 0)
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

func TestPollRecordsFinalURLButPollsConfiguredOne(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "a")
	})
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/old", Interval: time.Hour}
	for range 2 {
		if r := p.Poll(t.Context(), src); r.Err != nil {
			t.Fatal(r.Err)
		} else if got, want := r.URL, o.URL+"/new"; got != want {
			t.Fatalf("Result.URL=%q, want %q", got, want)
		}
	}
	if got, want := store.state("s").URL, o.URL+"/new"; got != want {
		t.Errorf("state URL=%q, want %q", got, want)
	}
	var paths []string
	for _, r := range o.requests() {
		paths = append(paths, r.URL.Path)
	}
	if got, want := strings.Join(paths, " "), "/old /new /old /new"; got != want {
		t.Errorf("paths=%q, want %q", got, want)
	}
}

func TestPollStoreFailures(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	t.Run("save", func(t *testing.T) {
		store := newMemStore()
		store.fail = errors.New("disk full")
		p, _ := newTestPoller(t, &lineParser{}, store, 0)
		r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: time.Hour})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "disk full") {
			t.Fatalf("Err=%v, want the store's error", r.Err)
		}
	})
	t.Run("load", func(t *testing.T) {
		before := len(o.requests())
		p, _ := newTestPoller(t, &lineParser{}, brokenStore{newMemStore()}, 0)
		r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: time.Hour})
		if r.Err == nil || r.NextPoll.IsZero() {
			t.Fatalf("Err=%v NextPoll=%v, want an error and a retry time", r.Err, r.NextPoll)
		}
		if got := len(o.requests()) - before; got != 0 {
			t.Fatalf("origin got %d requests with an unreadable state, want 0", got)
		}
	})
	t.Run("panic", func(t *testing.T) {
		p, _ := newTestPoller(t, &lineParser{}, panicStore{newMemStore()}, 0)
		r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: time.Hour})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "panic") {
			t.Fatalf("Err=%v, want a recovered panic", r.Err)
		}
	})
}

type brokenStore struct{ *memStore }

func (brokenStore) State(context.Context, string) (feed.SourceState, error) {
	return feed.SourceState{}, errors.New("bucket corrupt")
}

type panicStore struct{ *memStore }

func (panicStore) State(context.Context, string) (feed.SourceState, error) { panic("store bug") }

func TestPollCallsOnResult(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	var got []Result
	p := NewPoller(testClient(t, Options{}), &lineParser{}, newMemStore(), PollerOptions{
		OnResult: func(r Result) { got = append(got, r) },
	})
	r := p.Poll(t.Context(), feed.Source{ID: "s", URL: o.URL, Interval: time.Hour})
	if len(got) != 1 || got[0].SourceID != "s" || got[0].Counts != r.Counts {
		t.Fatalf("OnResult got %+v, want one call with the result %+v", got, r)
	}
}

func TestPollAllIsolatesFailures(t *testing.T) {
	bad := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) })
	good := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a\nb") })
	off := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0)
	sources := []feed.Source{
		{ID: "bad", URL: bad.URL, Interval: time.Hour},
		{ID: "off", URL: off.URL, Interval: time.Hour, Disabled: true},
		{ID: "broken-url", URL: "http://[::1", Interval: time.Hour},
		{ID: "good", URL: good.URL + "/feed", Interval: time.Hour},
	}
	results := p.PollAll(t.Context(), sources)

	var ids []string
	for _, r := range results {
		ids = append(ids, r.SourceID)
	}
	if got, want := strings.Join(ids, ","), "bad,broken-url,good"; got != want {
		t.Fatalf("results for %q, want %q", got, want)
	}
	if results[0].Err == nil || results[1].Err == nil {
		t.Errorf("bad Err=%v broken-url Err=%v, want errors", results[0].Err, results[1].Err)
	}
	if r := results[2]; r.Err != nil || r.Counts.New != 2 {
		t.Errorf("good Err=%v Counts=%+v, want nil and 2 new", r.Err, r.Counts)
	}
	if n := len(off.requests()); n != 0 {
		t.Errorf("disabled source polled %d times, want 0", n)
	}
	if st := store.state("bad"); st.Errors != 1 {
		t.Errorf("bad Errors=%d, want 1", st.Errors)
	}
}

func TestPollAllCancelled(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0)
	ctx, cancel := contextCancelled(t)
	defer cancel()
	results := p.PollAll(ctx, []feed.Source{{ID: "s", URL: o.URL, Interval: time.Hour}})
	if len(results) != 1 || results[0].Err == nil {
		t.Fatalf("results=%+v, want one with an error", results)
	}
	// Our cancellation is not the source's failure.
	if _, err := store.State(t.Context(), "s"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Fatalf("state recorded after cancellation (err=%v), want none", err)
	}
}
