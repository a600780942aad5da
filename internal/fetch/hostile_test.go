package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Limits of the hostile-origin suite: short, so the suite is fast, but
// long enough that a TLS handshake or a redirect chain finishes under
// -race while other test binaries load both cores (at 300 ms the
// untrusted-TLS case timed out before its x509 error in CI-like runs).
const (
	hostileTimeout = 2 * time.Second
	hostileMaxBody = 1 << 20
	tenGB          = 10 << 30
)

// loopback listens on 127.0.0.n, so that each hostile origin is its own
// host for the poller's per-host gate and nothing waits behind another.
func loopback(t *testing.T, n int) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", n))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.%d (this test needs the whole of 127/8 on loopback, as Linux has): %v", n, err)
	}
	return ln
}

// serveOn starts an httptest server for h on ln, with TLS when tls is set.
func serveOn(t *testing.T, ln net.Listener, h http.HandlerFunc, tls bool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.Listener.Close()
	srv.Listener = ln
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.URL
}

// stall blocks until the client gives up.
func stall(r *http.Request) { <-r.Context().Done() }

// countingWriter counts what a handler managed to send.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// TestHostileOrigins polls, all at once, origins that misbehave in every way
// we know and one healthy origin. Each hostile poll must end in an error
// recorded on its own source, the healthy one must succeed, and the heap must
// stay within a few times the body cap whatever the origins send.
func TestHostileOrigins(t *testing.T) {
	var sent sync.Map // case → *atomic.Int64 of bytes the origin wrote
	counter := func(name string) *atomic.Int64 {
		v, _ := sent.LoadOrStore(name, new(atomic.Int64))
		return v.(*atomic.Int64)
	}

	member := gzipMember(t)
	cases := []struct {
		name    string
		url     func(n int) string
		wantErr func(error) bool
		want    string // in the recorded LastError
	}{
		{"slowloris", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/rss+xml")
				w.WriteHeader(200)
				for { // one byte a second, for ever
					w.Write([]byte("<"))
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(time.Second):
					}
				}
			}, false)
		}, isTimeout, "timed out"},
		{"10GB-chunked", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				cw := countingWriter{w, counter("10GB-chunked")}
				chunk := bytes.Repeat([]byte("<item>x</item>"), 4096)
				for total := 0; total < tenGB; total += len(chunk) {
					if _, err := cw.Write(chunk); err != nil {
						return
					}
				}
			}, false)
		}, isTooLarge, "too large"},
		{"10GB-declared", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(int64(tenGB)))
				cw := countingWriter{w, counter("10GB-declared")}
				chunk := make([]byte, 64<<10)
				for total := 0; total < tenGB; total += len(chunk) {
					if _, err := cw.Write(chunk); err != nil {
						return
					}
				}
			}, false)
		}, isTooLarge, "Content-Length"},
		{"gzip-bomb", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Type", "application/rss+xml")
				cw := countingWriter{w, counter("gzip-bomb")}
				for range tenGB >> 20 { // 10 GiB inflated, about 10 MB on the wire
					if _, err := cw.Write(member); err != nil {
						return
					}
				}
			}, false)
		}, isTooLarge, "too large"},
		{"redirect-loop", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
			}, false)
		}, func(err error) bool { return errors.Is(err, ErrTooManyRedirects) }, "too many redirects"},
		{"accept-then-silence", func(n int) string {
			ln := loopback(t, n)
			var mu sync.Mutex
			var conns []net.Conn
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c) // held open, never read nor written
					mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				ln.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Close()
				}
			})
			return "http://" + ln.Addr().String() + "/feed"
		}, isTimeout, "timed out"},
		{"never-accepts", func(n int) string {
			ln := loopback(t, n) // the kernel completes the handshake; nobody ever accepts
			t.Cleanup(func() { ln.Close() })
			return "http://" + ln.Addr().String() + "/feed"
		}, isTimeout, "timed out"},
		{"stall-after-headers", func(n int) string {
			return serveOn(t, loopback(t, n), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/rss+xml")
				io.WriteString(w, "<rss><channel>")
				w.(http.Flusher).Flush()
				stall(r)
			}, false)
		}, isTimeout, "timed out"},
		{"tls-untrusted", func(n int) string {
			// On 127.0.0.1, which the test certificate names: what fails
			// is trust in its issuer, not the name.
			return serveOn(t, loopback(t, 1), func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "a")
			}, true)
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "certificate") }, "x509: certificate signed by unknown authority"},
	}

	healthy := serveOn(t, loopback(t, len(cases)+2), func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a\nb\nc")
	}, false)
	sources := []feed.Source{{ID: "healthy", URL: healthy + "/feed", Interval: time.Hour}}
	for i, c := range cases {
		sources = append(sources, feed.Source{ID: c.name, URL: c.url(i + 2), Interval: time.Hour})
	}

	store := newMemStore()
	client := testClient(t, Options{Timeout: hostileTimeout, MaxBody: hostileMaxBody, MaxRedirects: 5})
	p := NewPoller(client, &lineParser{}, store, PollerOptions{Concurrency: len(sources)})

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	began := time.Now()
	results := p.PollAll(t.Context(), sources)
	took := time.Since(began)
	close(stop)
	<-sampled

	byID := map[string]Result{}
	for _, r := range results {
		byID[r.SourceID] = r
	}
	if r := byID["healthy"]; r.Err != nil || r.Counts.New != 3 {
		t.Errorf("healthy source: Err=%v Counts=%+v, want 3 new items", r.Err, r.Counts)
	}
	for _, c := range cases {
		r := byID[c.name]
		if !c.wantErr(r.Err) {
			t.Errorf("%s: Err=%v, not the error expected", c.name, r.Err)
		}
		st := store.state(c.name)
		if st.Errors != 1 || !strings.Contains(st.LastError, c.want) || st.NextPoll.IsZero() {
			t.Errorf("%s: recorded Errors=%d LastError=%q NextPoll=%v, want 1, %q, a retry time", c.name, st.Errors, st.LastError, st.NextPoll, c.want)
		}
		t.Logf("%-20s %6v  %s", c.name, r.Duration.Round(time.Millisecond), st.LastError)
	}
	sent.Range(func(k, v any) bool {
		// The origin could push at most what fills the socket buffers
		// after the client hung up: never anything near 10 GB.
		if n := v.(*atomic.Int64).Load(); n > 256<<20 {
			t.Errorf("%s: the origin got to send %d bytes, want the poll to stop reading early", k, n)
		} else {
			t.Logf("%-20s origin sent %.1f MiB before the client hung up", k, float64(n)/(1<<20))
		}
		return true
	})
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("hostile suite: %d sources in %v; heap %.1f MiB before, peak %.1f MiB (+%.1f MiB; body cap %d MiB)",
		len(sources), took.Round(time.Millisecond), float64(base.HeapAlloc)/(1<<20), float64(peak.Load())/(1<<20),
		float64(growth)/(1<<20), hostileMaxBody>>20)
	// Bounded by the body cap of the few polls reading at once (ReadAll
	// doubles its buffer, so up to 2×, plus the inflater's window) and a
	// constant for the origins' own buffers: nowhere near what was sent.
	if limit := int64(16*hostileMaxBody + 32<<20); growth > limit {
		t.Errorf("heap grew by %d bytes, want at most %d", growth, limit)
	}
}

func isTimeout(err error) bool  { return errors.Is(err, context.DeadlineExceeded) }
func isTooLarge(err error) bool { return errors.Is(err, ErrTooLarge) }

// gzipMember is one gzip member that inflates to 1 MiB of zeros (about
// 1 KiB); members concatenated are one stream to a reader.
func gzipMember(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
