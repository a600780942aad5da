package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// origin is an httptest server on 127.0.0.1 that records the requests it
// received before handing them to its handler.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newOrigin(t testing.TB, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, r.Clone(context.Background()))
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.reqs...)
}

func testClient(t testing.TB, o Options) *Client {
	t.Helper()
	o.AllowPrivate = true // httptest listens on loopback
	c := NewClient(o)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestGetSendsUserAgentAndValidatorsVerbatim(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `W/"abc"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Content-Type", "application/rss+xml; charset=euc-kr")
		io.WriteString(w, "<rss/>")
	})
	c := testClient(t, Options{UserAgent: "test-agent/1"})
	// Odd but legal validators must reach the origin byte for byte.
	etag, lm := `"x y", W/"z"`, "yesterday-ish"
	resp, err := c.Get(t.Context(), Request{URL: o.URL + "/feed?a=1", ETag: etag, LastModified: lm})
	if err != nil {
		t.Fatal(err)
	}
	reqs := o.requests()
	if got, want := len(reqs), 1; got != want {
		t.Fatalf("requests=%d, want %d", got, want)
	}
	r := reqs[0]
	for _, c := range []struct{ name, got, want string }{
		{"User-Agent", r.UserAgent(), "test-agent/1"},
		{"If-None-Match", r.Header.Get("If-None-Match"), etag},
		{"If-Modified-Since", r.Header.Get("If-Modified-Since"), lm},
		{"RequestURI", r.RequestURI, "/feed?a=1"},
		{"Cookie", r.Header.Get("Cookie"), ""},
		{"resp.ETag", resp.ETag, `W/"abc"`},
		{"resp.LastModified", resp.LastModified, "Mon, 02 Jan 2006 15:04:05 GMT"},
		{"resp.ContentType", resp.ContentType, "application/rss+xml; charset=euc-kr"},
		{"resp.Body", string(resp.Body), "<rss/>"},
		{"resp.URL", resp.URL, o.URL + "/feed?a=1"},
	} {
		if c.got != c.want {
			t.Errorf("%s=%q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestGetOmitsEmptyValidators(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	c := testClient(t, Options{})
	if _, err := c.Get(t.Context(), Request{URL: o.URL}); err != nil {
		t.Fatal(err)
	}
	r := o.requests()[0]
	if _, ok := r.Header["If-None-Match"]; ok {
		t.Errorf("If-None-Match sent without an ETag")
	}
	if _, ok := r.Header["If-Modified-Since"]; ok {
		t.Errorf("If-Modified-Since sent without a Last-Modified")
	}
	if got, want := r.UserAgent(), DefaultUserAgent; got != want {
		t.Errorf("User-Agent=%q, want %q", got, want)
	}
}

func TestGetNotModified(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v2"`)
		w.WriteHeader(http.StatusNotModified)
	})
	resp, err := testClient(t, Options{}).Get(t.Context(), Request{URL: o.URL, ETag: `"v1"`})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.NotModified || resp.Status != 304 || resp.Body != nil || resp.ETag != `"v2"` {
		t.Fatalf("got NotModified=%v Status=%d Body=%q ETag=%q, want true 304 nil \"v2\"",
			resp.NotModified, resp.Status, resp.Body, resp.ETag)
	}
}

func TestGetStatusError(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	resp, err := testClient(t, Options{}).Get(t.Context(), Request{URL: o.URL})
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err=%v, want a *StatusError", err)
	}
	if got, want := se.Code, 503; got != want {
		t.Errorf("Code=%d, want %d", got, want)
	}
	if got, want := se.Status, "503 Service Unavailable"; got != want {
		t.Errorf("Status=%q, want %q", got, want)
	}
	if resp == nil || resp.Status != 503 || resp.Header.Get("Retry-After") != "120" {
		t.Fatalf("resp=%+v, want status 503 with its headers", resp)
	}
}

func TestGetTooLarge(t *testing.T) {
	const max = 1000
	big := strings.Repeat("x", max+1)
	tests := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big) // small enough that net/http sets Content-Length
		}},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			for range max + 1 {
				io.WriteString(w, "x")
				w.(http.Flusher).Flush()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, tt.h)
			_, err := testClient(t, Options{MaxBody: max}).Get(t.Context(), Request{URL: o.URL})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err=%v, want ErrTooLarge", err)
			}
			// A declared length is refused before reading, and says so.
			if got, want := strings.Contains(err.Error(), "Content-Length"), tt.name == "content-length"; got != want {
				t.Errorf("err=%q mentions Content-Length: %v, want %v", err, got, want)
			}
		})
	}
	t.Run("exactly-max", func(t *testing.T) {
		o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big[:max]) })
		resp, err := testClient(t, Options{MaxBody: max}).Get(t.Context(), Request{URL: o.URL})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(resp.Body), max; got != want {
			t.Fatalf("len(Body)=%d, want %d", got, want)
		}
	})
}

// gzipBomb returns a gzip stream that inflates to n MiB of zeros: one
// compressed MiB repeated as n gzip members, which readers concatenate.
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), n)
}

func TestGetGzipBombIsBounded(t *testing.T) {
	const max = 1 << 20
	bomb := gzipBomb(t, 256) // about 250 KiB that inflates to 256 MiB
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding=%q, want gzip offered", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bomb)
	})
	c := testClient(t, Options{MaxBody: max})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Get(t.Context(), Request{URL: o.URL})
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err=%v, want ErrTooLarge", err)
	}
	// Reading to the end would allocate hundreds of MiB; the limit keeps
	// it to a few times MaxBody (ReadAll's growth, the inflater's window,
	// and whatever the origin goroutine allocates meanwhile).
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(32<<20); got > limit {
		t.Fatalf("allocated %d bytes while reading a bomb, want at most %d", got, limit)
	}
}

func TestGetTimeout(t *testing.T) {
	tests := []struct {
		name        string
		sendHeaders bool
	}{
		{"stalled-after-headers", true},
		{"stalled-before-headers", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.sendHeaders {
					w.Header().Set("Content-Type", "application/rss+xml")
					io.WriteString(w, "<rss>")
					w.(http.Flusher).Flush()
				}
				select { // stall until the client gives up
				case <-r.Context().Done():
				case <-release:
				}
			})
			defer close(release)
			_, err := testClient(t, Options{Timeout: 200 * time.Millisecond}).Get(t.Context(), Request{URL: o.URL})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err=%v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestGetRedirects(t *testing.T) {
	t.Run("loop", func(t *testing.T) {
		var o *origin
		o = newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, o.URL+r.URL.Path, http.StatusFound)
		})
		resp, err := testClient(t, Options{MaxRedirects: 3}).Get(t.Context(), Request{URL: o.URL + "/loop"})
		if !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("err=%v, want ErrTooManyRedirects", err)
		}
		// The original request and the three redirects allowed.
		if got, want := len(o.requests()), 4; got != want {
			t.Errorf("requests=%d, want %d", got, want)
		}
		if resp == nil || resp.Status != http.StatusFound {
			t.Errorf("resp=%+v, want the last 302", resp)
		}
	})
	t.Run("followed-without-cookies", func(t *testing.T) {
		o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/old" {
				http.SetCookie(w, &http.Cookie{Name: "track", Value: "1"})
				http.Redirect(w, r, "/new", http.StatusMovedPermanently)
				return
			}
			io.WriteString(w, "<feed/>")
		})
		resp, err := testClient(t, Options{}).Get(t.Context(), Request{URL: o.URL + "/old", ETag: `"e"`})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.URL, o.URL+"/new"; got != want {
			t.Errorf("URL=%q, want %q", got, want)
		}
		reqs := o.requests()
		if got, want := len(reqs), 2; got != want {
			t.Fatalf("requests=%d, want %d", got, want)
		}
		if c := reqs[1].Header.Get("Cookie"); c != "" {
			t.Errorf("redirect carried Cookie %q, want none", c)
		}
		if got, want := reqs[1].UserAgent(), DefaultUserAgent; got != want {
			t.Errorf("redirect User-Agent=%q, want %q", got, want)
		}
	})
}

func TestGetRefusesPrivateAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := NewClient(Options{}) // AllowPrivate false
	defer c.CloseIdleConnections()
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := c.Get(t.Context(), Request{URL: u})
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("Get(%s) err=%v, want ErrPrivateAddress", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("origin received %d requests, want 0", n)
	}
}

func TestGetRejectsOtherSchemes(t *testing.T) {
	_, err := NewClient(Options{}).Get(t.Context(), Request{URL: "file:///etc/passwd"})
	if err == nil {
		t.Fatal("Get(file://) succeeded, want an error")
	}
}

func TestIsPublic(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700::1111", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"100.128.0.1", true},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"198.18.0.1", false},
		{"198.20.0.1", true},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fd00::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::a00:1", false},  // NAT64 of 10.0.0.1
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", false},  // 6to4 of 127.0.0.1
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8
		// The audit's four (issue 16) and the rest of IANA's registries.
		{"::127.0.0.1", false},        // IPv4-compatible, deprecated
		{"::8.8.8.8", false},          // IPv4-compatible even of a public address
		{"::ffff:0:a00:1", false},     // IPv4-translated (SIIT) 10.0.0.1
		{"::ffff:0:808:808", false},   // IPv4-translated, not routable
		{"64:ff9b:1::a00:1", false},   // local-use NAT64 (RFC 8215)
		{"64:ff9b:1::808:808", false}, // local-use NAT64 of a public address
		{"fec0::1", false},            // site-local, deprecated
		{"feff::1", false},            // site-local's end
		{"100::1", false},             // discard-only
		{"2001::1", false},            // Teredo
		{"2001:2::1", false},          // benchmarking
		{"2001:20::1", false},         // ORCHIDv2
		{"2001:db8::1", false},        // documentation
		{"3fff::1", false},            // documentation
		{"5f00::1", false},            // SRv6 SIDs
		{"4000::1", false},            // unassigned, outside 2000::/3
		{"fe80::1%eth0", false},       // scoped
		{"192.0.0.9", false},          // 192.0.0.0/24
		{"192.0.2.1", false},          // TEST-NET-1
		{"192.88.99.1", false},        // 6to4 relay anycast
		{"198.51.100.7", false},       // TEST-NET-2
		{"203.0.113.7", false},        // TEST-NET-3
		{"240.0.0.1", false},
		{"::ffff:192.0.2.1", false},
		{"64:ff9b::c000:201", false}, // NAT64 of TEST-NET-1
		{"2002:c000:201::1", false},  // 6to4 of TEST-NET-1
		{"2a00:1450:4001:82b::200e", true},
		{"2620:4f:8000::1", true}, // AS112, globally reachable
		{"1.1.1.1", true},
		{"223.255.255.255", true},
		{"192.0.3.1", true},
	}
	for _, tt := range tests {
		if got := isPublic(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("isPublic(%s)=%v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestRefusePrivateNamesTheAddress(t *testing.T) {
	err := refusePrivate("tcp4", "10.0.0.7:443", nil)
	if !errors.Is(err, ErrPrivateAddress) || !strings.Contains(err.Error(), "10.0.0.7:443") {
		t.Fatalf("err=%v, want ErrPrivateAddress naming 10.0.0.7:443", err)
	}
	if err := refusePrivate("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Fatalf("public address refused: %v", err)
	}
	if err := refusePrivate("tcp", "garbage", nil); !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("unparsable address err=%v, want ErrPrivateAddress", err)
	}
}

// roundTripFunc is a Transport that answers in-process.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f(r)
	if resp != nil {
		resp.Request = r // as a real transport does
	}
	return resp, err
}

// TestGetThroughGivenTransport: with Options.Transport, requests (and
// their redirects) go through it, with the client's headers and limits,
// and no socket is opened.
func TestGetThroughGivenTransport(t *testing.T) {
	var paths []string
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		paths = append(paths, r.URL.Path)
		rec := httptest.NewRecorder()
		if r.URL.Path == "/old" {
			http.Redirect(rec, r, "/feed", http.StatusMovedPermanently)
		} else {
			rec.Header().Set("ETag", `"v1"`)
			io.WriteString(rec, "<feed>"+r.UserAgent()+"</feed>")
		}
		return rec.Result(), nil
	})
	c := NewClient(Options{Transport: tr, UserAgent: "ua/1", MaxBody: 64})
	defer c.CloseIdleConnections() // a Transport without the method is fine
	resp, err := c.Get(t.Context(), Request{URL: "http://origin.test/old"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Body), "<feed>ua/1</feed>"; got != want {
		t.Errorf("body=%q, want %q", got, want)
	}
	if got, want := strings.Join(paths, " "), "/old /feed"; got != want {
		t.Errorf("requests %q, want %q", got, want)
	}
	if len(resp.Redirects) != 1 || resp.ETag != `"v1"` {
		t.Errorf("redirects=%+v etag=%q", resp.Redirects, resp.ETag)
	}
	tr = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		rec.Write(bytes.Repeat([]byte("x"), 65))
		return rec.Result(), nil
	})
	if _, err := NewClient(Options{Transport: tr, MaxBody: 64}).Get(t.Context(), Request{URL: "http://origin.test/big"}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 65-byte body over MaxBody 64: err=%v, want ErrTooLarge", err)
	}
}

// TestIdleConnectionsBounded: after one GET from each of 150 origins, the
// client keeps at most maxIdleConns of those connections open (net/http's
// default transport kept all 150), and the connections it keeps are the
// latest: a second GET from the last origin reuses its connection.
func TestIdleConnectionsBounded(t *testing.T) {
	var open, dials atomic.Int64
	const origins = 150
	servers := make([]*httptest.Server, origins)
	for i := range servers {
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<rss/>")
		}))
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
				dials.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		s.Start()
		t.Cleanup(s.Close)
		servers[i] = s
	}
	c := testClient(t, Options{})
	for _, s := range servers {
		if _, err := c.Get(context.Background(), Request{URL: s.URL + "/feed"}); err != nil {
			t.Fatal(err)
		}
	}
	// The transport closes an evicted connection at once; the origin sees
	// the close when it reads the end of the stream.
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() > maxIdleConns && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n > maxIdleConns {
		t.Fatalf("%d connections still open after one GET from each of %d origins, want at most %d", n, origins, maxIdleConns)
	}
	before := dials.Load()
	if _, err := c.Get(context.Background(), Request{URL: servers[origins-1].URL + "/feed"}); err != nil {
		t.Fatal(err)
	}
	if d := dials.Load() - before; d != 0 {
		t.Errorf("the latest origin's connection was not kept: %d new connections for a second GET", d)
	}
}
