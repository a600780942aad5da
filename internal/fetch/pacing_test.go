package fetch

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// hit is one request an in-bubble origin received.
type hit struct {
	host, path  string
	at          time.Time
	conditional bool
	inflight    int // requests to the host in flight, this one included
}

// recorder is an http.Handler for synctest bubbles that records every
// request, then lets serve answer it.
type recorder struct {
	mu       sync.Mutex
	hits     []hit
	inflight map[string]int
	serve    func(w http.ResponseWriter, r *http.Request)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	rc.mu.Lock()
	rc.inflight[host]++
	rc.hits = append(rc.hits, hit{host: host, path: r.URL.Path, at: time.Now(),
		conditional: r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "",
		inflight:    rc.inflight[host]})
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight[host]--
		rc.mu.Unlock()
	}()
	rc.serve(w, r)
}

func (rc *recorder) snapshot() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// bubbleFixture serves serve on a memNet inside the current synctest bubble
// and returns a poller using it, and a function that tears both down.
func bubbleFixture(t *testing.T, serve func(w http.ResponseWriter, r *http.Request), store Store, o PollerOptions) (*Poller, *recorder, func()) {
	t.Helper()
	mn := newMemNet()
	rc := &recorder{inflight: map[string]int{}, serve: serve}
	srv := &http.Server{Handler: rc}
	go srv.Serve(mn)
	c := testClient(t, Options{Timeout: 30 * time.Second})
	c.transport.(*http.Transport).DialContext = mn.DialContext
	p := NewPoller(c, &lineParser{}, store, o)
	return p, rc, func() {
		c.CloseIdleConnections()
		srv.Close()
	}
}

func TestGateSpacesRequestsToOneHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p, rc, stop := bubbleFixture(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") },
			newMemStore(), PollerOptions{HostGap: 2 * time.Second})
		defer stop()
		var sources []feed.Source
		for _, u := range []string{"http://a.test/1", "http://a.test/2", "http://b.test/1", "http://a.test/3", "http://b.test/2"} {
			sources = append(sources, feed.Source{ID: u, URL: u, Interval: time.Hour})
		}
		for _, r := range p.PollAll(t.Context(), sources) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		last := map[string]time.Time{}
		for _, h := range rc.snapshot() {
			// The token bucket counts in float64 seconds: allow it a microsecond.
			if prev, ok := last[h.host]; ok && h.at.Sub(prev) < 2*time.Second-time.Microsecond {
				t.Errorf("%s%s came %v after the previous request to its host, want at least 2s", h.host, h.path, h.at.Sub(prev))
			}
			last[h.host] = h.at
			if h.path == "/1" && h.at != start {
				t.Errorf("%s%s waited %v, want the first request to each host at once", h.host, h.path, h.at.Sub(start))
			}
		}
		if got, want := last["a.test"].Sub(start), 4*time.Second; got < want-time.Microsecond || got > want {
			t.Errorf("third request to a.test at +%v, want +%v", got, want)
		}
		synctest.Wait()
		time.Sleep(2 * time.Second)
		p.gate.mu.Lock()
		p.gate.sweep(time.Now())
		n := len(p.gate.hosts)
		p.gate.mu.Unlock()
		if n != 0 {
			t.Errorf("gate keeps %d idle hosts after a sweep, want 0", n)
		}
	})
}

func TestGateSlowsHostWhereSeveralSourcesGot429(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refusing string // paths answered 429
		wantWait time.Duration
	}{
		{"two-sources-refused", "/1 /2", 121 * time.Second}, // /2 at +1s, Retry-After 120s
		{"one-source-refused", "/1", 2 * time.Second},       // only that source waits
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				p, rc, stop := bubbleFixture(t, func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(tc.refusing, r.URL.Path) {
						w.Header().Set("Retry-After", "120")
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					io.WriteString(w, "a")
				}, newMemStore(), PollerOptions{HostGap: time.Second})
				defer stop()
				var sources []feed.Source
				for _, u := range []string{"http://a.test/1", "http://a.test/2", "http://a.test/3", "http://b.test/1"} {
					sources = append(sources, feed.Source{ID: u, URL: u, Interval: time.Hour})
				}
				results := p.PollAll(t.Context(), sources)
				if got := results[0].NextPoll.Sub(start); got < 120*time.Second {
					t.Errorf("refused source due again in %v, want at least its Retry-After", got)
				}
				for _, h := range rc.snapshot() {
					switch h.host + h.path {
					case "a.test/3":
						if got := h.at.Sub(start); got != tc.wantWait {
							t.Errorf("a.test/3 asked at +%v, want +%v", got, tc.wantWait)
						}
					case "b.test/1":
						if h.at != start {
							t.Errorf("b.test was slowed too (+%v)", h.at.Sub(start))
						}
					}
				}
			})
		})
	}
}
