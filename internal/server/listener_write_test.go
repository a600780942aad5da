package server

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes is a net.Conn that records what is written to it.
type writes struct {
	net.Conn
	got [][]byte
}

func (w *writes) Write(p []byte) (int, error) {
	w.got = append(w.got, bytes.Clone(p))
	return len(p), nil
}

// TestConnHoldsOneWrite: after holdNext, the next write of at most 4 KB
// reaches the connection only with the write after it, in order; a write
// too large to hold, or one after the pair, goes at once; sendHeld sends
// a write still held and nothing when none is.
func TestConnHoldsOneWrite(t *testing.T) {
	inner := &writes{}
	c := &conn{Conn: inner}
	head, rest := []byte(strings.Repeat("h", 4096)), []byte(strings.Repeat("b", 40000))

	c.holdNext()
	if n, err := c.Write(head); n != len(head) || err != nil {
		t.Fatalf("held write: %d, %v; want %d, nil", n, err, len(head))
	}
	if len(inner.got) != 0 {
		t.Fatalf("the held write reached the connection at once: %d writes", len(inner.got))
	}
	if n, err := c.Write(rest); n != len(rest) || err != nil {
		t.Fatalf("write after the held one: %d, %v; want %d, nil", n, err, len(rest))
	}
	if got := bytes.Join(inner.got, nil); !bytes.Equal(got, append(bytes.Clone(head), rest...)) {
		t.Fatalf("the connection got %d bytes, want the held %d then the %d after", len(got), len(head), len(rest))
	}
	inner.got = nil
	c.Write([]byte("next"))
	if len(inner.got) != 1 || string(inner.got[0]) != "next" {
		t.Errorf("a write after the pair: %q, want it sent at once", inner.got)
	}

	inner.got = nil
	c.holdNext()
	c.Write(rest)
	if len(inner.got) != 1 {
		t.Errorf("a write of %d bytes, more than can be held: %d writes, want it sent at once", len(rest), len(inner.got))
	}
	c.sendHeld()

	inner.got = nil
	c.holdNext()
	c.Write([]byte("small answer"))
	if err := c.sendHeld(); err != nil || len(inner.got) != 1 || string(inner.got[0]) != "small answer" {
		t.Errorf("sendHeld: %q, %v; want the held write sent", inner.got, err)
	}
	inner.got = nil
	c.holdNext()
	if err := c.sendHeld(); err != nil || len(inner.got) != 0 {
		t.Errorf("sendHeld with nothing held: %d writes, %v", len(inner.got), err)
	}
	c.Write([]byte("x"))
	if len(inner.got) != 1 {
		t.Errorf("after sendHeld the next write was held")
	}
}

// TestServeBytesCoalescedOverHTTP: documents larger and smaller than
// net/http's buffer, served through a Listener with its ConnContext, come
// whole and in order on one keep-alive connection, HEAD without a body.
func TestServeBytesCoalescedOverHTTP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, ListenerOptions{Max: 8, PerClient: 8})
	docs := map[string][]byte{
		"/large": bytes.Repeat([]byte("0123456789abcdef"), 3000), // 48,000 bytes
		"/mid":   bytes.Repeat([]byte("m"), 5000),                // the head's buffer and a part too small to go alone
		"/small": []byte("<feed/>"),
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/atom+xml")
			serveBytes(w, r, time.Time{}, docs[r.URL.Path])
		}),
		ConnState:   l.ConnState,
		ConnContext: l.ConnContext,
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(l) })
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, path := range []string{"/large", "/small", "/mid", "/large", "/mid"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, _ := http.NewRequest(method, "http://"+inner.Addr().String()+path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := docs[path]
			if method == http.MethodHead {
				want = nil
			}
			if err != nil || !bytes.Equal(body, want) || resp.ContentLength != int64(len(docs[path])) {
				t.Errorf("%s %s: %d bytes (Content-Length %d), %v; want %d", method, path, len(body), resp.ContentLength, err, len(want))
			}
		}
	}
	if n := l.Open(); n != 1 {
		t.Errorf("%d connections open, want the one keep-alive", n)
	}
}
