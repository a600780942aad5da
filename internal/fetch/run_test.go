package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// memNet is an in-memory network for synctest bubbles: every dial, whatever
// the address, reaches one listener through net.Pipe, so blocking is
// durable and fake time can advance.
type memNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemNet() *memNet { return &memNet{conns: make(chan net.Conn), done: make(chan struct{})} }

func (n *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *memNet) Close() error   { n.once.Do(func() { close(n.done) }); return nil }
func (n *memNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (n *memNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// busyOrigin serves every host on a memNet. Each request takes a second of
// (fake) time; it records the order of requests and the most requests it
// ever had in flight, per host and overall.
type busyOrigin struct {
	mu       sync.Mutex
	order    []string // "host/path", in arrival order
	inflight map[string]int
	maxHost  map[string]int
	all, max int
}

func (o *busyOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	o.mu.Lock()
	o.order = append(o.order, host+r.URL.Path)
	o.inflight[host]++
	o.maxHost[host] = max(o.maxHost[host], o.inflight[host])
	o.all++
	o.max = max(o.max, o.all)
	o.mu.Unlock()

	time.Sleep(time.Second)

	o.mu.Lock()
	o.inflight[host]--
	o.all--
	o.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/fail") {
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "item"+r.URL.Path)
}

func (o *busyOrigin) snapshot() (order []string, maxHost map[string]int, max int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	maxHost = map[string]int{}
	for h, n := range o.maxHost {
		maxHost[h] = n
	}
	return append([]string(nil), o.order...), maxHost, o.max
}

// runFixture starts an origin and a poller wired to it inside the current
// bubble, and returns a stop function that tears both down.
func runFixture(t *testing.T, store Store) (*Poller, *busyOrigin, func()) {
	t.Helper()
	return runFixtureOpts(t, store, PollerOptions{Concurrency: 8})
}

// runFixtureOpts is runFixture with the poller's options.
func runFixtureOpts(t *testing.T, store Store, o PollerOptions) (*Poller, *busyOrigin, func()) {
	t.Helper()
	mn := newMemNet()
	origin := &busyOrigin{inflight: map[string]int{}, maxHost: map[string]int{}}
	srv := &http.Server{Handler: origin}
	go srv.Serve(mn)
	c := testClient(t, Options{Timeout: 30 * time.Second})
	c.transport.(*http.Transport).DialContext = mn.DialContext
	p := NewPoller(c, &lineParser{}, store, o)
	return p, origin, func() {
		c.CloseIdleConnections()
		srv.Close()
	}
}

func TestRunSchedulesPolitely(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := newMemStore()
		polled := func(id string, next time.Duration) {
			store.SaveState(t.Context(), feed.SourceState{SourceID: id, LastPoll: start.Add(-time.Hour), NextPoll: start.Add(next)})
		}
		polled("a-later", 30*time.Minute)
		polled("a-soon", 10*time.Minute)
		polled("a-overdue", -5*time.Minute)
		sources := []feed.Source{
			{ID: "a-later", URL: "http://a.test/later", Interval: time.Hour},
			{ID: "a-soon", URL: "http://a.test/soon", Interval: time.Hour},
			{ID: "a-overdue", URL: "http://a.test/overdue", Interval: time.Hour},
			{ID: "a-new1", URL: "http://a.test/new1", Interval: time.Hour},
			{ID: "a-new2", URL: "http://A.test/new2", Interval: time.Hour},
			{ID: "a-off", URL: "http://a.test/off", Interval: time.Hour, Disabled: true},
			{ID: "b-new", URL: "http://b.test/new", Interval: time.Hour},
			{ID: "b-broken", URL: "http://b.test/fail", Interval: 2 * time.Minute},
		}
		p, origin, stop := runFixture(t, store)
		defer stop()

		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx, sources) }()

		time.Sleep(45 * time.Minute)
		order, maxHost, maxAll := origin.snapshot()

		// Host a: the never-polled first, in source order, then by NextPoll.
		var a []string
		for _, o := range order {
			if h, path, _ := strings.Cut(o, "/"); h == "a.test" {
				a = append(a, path)
			}
		}
		if got, want := strings.Join(a, " "), "new1 new2 overdue soon later"; got != want {
			t.Errorf("host a polled %q, want %q", got, want)
		}
		// Host b's never-polled source went at once, alongside host a's first.
		if len(order) < 2 || (order[0] != "b.test/new" && order[1] != "b.test/new") {
			t.Errorf("first requests %q, want b.test/new among the first two", order[:min(2, len(order))])
		}
		for h, n := range maxHost {
			if n > 1 {
				t.Errorf("host %s had %d requests in flight, want at most 1", h, n)
			}
		}
		if got, want := maxAll, 2; got != want {
			t.Errorf("at most %d requests in flight overall, want %d (two hosts in parallel)", got, want)
		}
		// The failing source kept being retried with backoff and did not
		// stop the others.
		if st := store.state("b-broken"); st.Errors < 3 {
			t.Errorf("b-broken Errors=%d, want at least 3 retries in 45 minutes", st.Errors)
		}
		if st := store.state("a-later"); st.LastStatus != 200 {
			t.Errorf("a-later LastStatus=%d, want 200", st.LastStatus)
		}
		if _, err := store.State(t.Context(), "a-off"); err == nil {
			t.Errorf("disabled source was polled")
		}

		cancel()
		if err := <-ran; err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	})
}

func TestRunDrainsInFlightPollOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		p, origin, stop := runFixture(t, store)
		defer stop()
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() {
			ran <- p.Run(ctx, []feed.Source{{ID: "s", URL: "http://a.test/s", Interval: time.Hour}})
		}()

		time.Sleep(500 * time.Millisecond) // the origin is mid-request
		if order, _, _ := origin.snapshot(); len(order) != 1 {
			t.Fatalf("requests=%v, want one in flight", order)
		}
		cancel()
		start := time.Now()
		if err := <-ran; err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
		// Run returned only once the request had completed and been recorded.
		if got := time.Since(start); got < 500*time.Millisecond {
			t.Errorf("Run returned %v after cancel, before the in-flight poll finished", got)
		}
		st := store.state("s")
		if st.LastStatus != 200 || st.Errors != 0 || st.Items != 1 {
			t.Fatalf("state LastStatus=%d Errors=%d Items=%d, want the drained poll recorded (200, 0, 1)",
				st.LastStatus, st.Errors, st.Items)
		}
		time.Sleep(2 * time.Hour)
		if order, _, _ := origin.snapshot(); len(order) != 1 {
			t.Fatalf("requests after cancel=%v, want no more", order)
		}
	})
}

func TestPollAllOneRequestPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, origin, stop := runFixture(t, newMemStore())
		defer stop()
		var sources []feed.Source
		for _, u := range []string{"http://a.test/1", "http://b.test/1", "http://a.test/2", "http://A.TEST/3", "http://b.test/2"} {
			sources = append(sources, feed.Source{ID: u, URL: u, Interval: time.Hour})
		}
		results := p.PollAll(t.Context(), sources)
		for i, r := range results {
			if r.Err != nil || r.SourceID != sources[i].ID {
				t.Errorf("result %d: %s Err=%v, want %s without error", i, r.SourceID, r.Err, sources[i].ID)
			}
		}
		order, maxHost, maxAll := origin.snapshot()
		if got, want := len(order), len(sources); got != want {
			t.Fatalf("requests=%d, want %d", got, want)
		}
		for h, n := range maxHost {
			if n > 1 {
				t.Errorf("host %s had %d requests in flight, want at most 1", h, n)
			}
		}
		if got, want := maxAll, 2; got != want {
			t.Errorf("at most %d requests in flight, want %d", got, want)
		}
	})
}

// TestRunRetriesFailedAtStart: a Run (a restart) polls at once the sources
// whose last poll failed, with their backoff reset, after the never-polled
// ones; a source that answered 429 keeps the wait it was asked for.
func TestRunRetriesFailedAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := newMemStore()
		failed := func(id string, status, errs int, next time.Duration) {
			store.SaveState(t.Context(), feed.SourceState{SourceID: id, ConfiguredURL: "http://a.test/" + id,
				LastPoll: start.Add(-time.Minute), LastStatus: status, Errors: errs, NextPoll: start.Add(next)})
		}
		failed("down", 0, 6, 20*time.Hour)    // a network failure, backed off for hours
		failed("busy", 429, 1, 3*time.Hour)   // asked to wait
		failed("broken", 500, 4, 5*time.Hour) // a server error: retried too
		failed("junk", 200, 2, 4*time.Hour)   // a body refused: it would be refused again
		failed("crashed", 0, 1, 2*time.Hour)  // the process died parsing it
		store.states["crashed"] = func() feed.SourceState {
			st := store.states["crashed"]
			st.LastError = ErrUnfinishedPoll.Error() + " (it began parsing at …)"
			return st
		}()
		sources := []feed.Source{
			{ID: "down", URL: "http://a.test/down", Interval: time.Hour},
			{ID: "busy", URL: "http://a.test/busy", Interval: time.Hour},
			{ID: "broken", URL: "http://a.test/broken", Interval: time.Hour},
			{ID: "junk", URL: "http://a.test/junk", Interval: time.Hour},
			{ID: "crashed", URL: "http://a.test/crashed", Interval: time.Hour},
			{ID: "new", URL: "http://a.test/new", Interval: time.Hour},
		}
		p, origin, stop := runFixture(t, store)
		defer stop()
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx, sources) }()

		time.Sleep(10 * time.Minute)
		order, _, _ := origin.snapshot()
		if got, want := strings.Join(order, " "), "a.test/new a.test/down a.test/broken"; got != want {
			t.Errorf("polled %q, want %q (never polled, then the failed in source order; busy, junk and crashed wait)", got, want)
		}
		if st := store.state("down"); st.Errors != 0 || st.LastStatus != 200 {
			t.Errorf("down: Errors=%d LastStatus=%d, want the retry recorded as a success", st.Errors, st.LastStatus)
		}
		if st := store.state("busy"); st.Errors != 1 || st.LastStatus != 429 {
			t.Errorf("busy: Errors=%d LastStatus=%d, want it untouched", st.Errors, st.LastStatus)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRetryResetsBackoff: a failure after Retry is backed off as a first
// failure, not as the fifth.
func TestRetryResetsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		src := feed.Source{ID: "s", URL: "http://a.test/fail", Interval: time.Hour}
		store.SaveState(t.Context(), feed.SourceState{SourceID: "s", ConfiguredURL: src.URL, LastPoll: time.Now(), Errors: 4})
		p, _, stop := runFixture(t, store)
		defer stop()
		res := p.Retry(t.Context(), src)
		if res.Err == nil {
			t.Fatal("the poll of a failing URL succeeded")
		}
		if st := store.state("s"); st.Errors != 1 {
			t.Errorf("Errors=%d after Retry, want 1 (the backoff reset)", st.Errors)
		}
		p.Poll(t.Context(), src)
		if st := store.state("s"); st.Errors != 2 {
			t.Errorf("Errors=%d after Poll, want 2", st.Errors)
		}
	})
}
