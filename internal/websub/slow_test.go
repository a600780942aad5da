package websub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// silent accepts connections and never answers: a slow callback, which
// costs this process one goroutine in all.
type silent struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newSilent(t *testing.T) *silent {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silent{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *silent) held() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.conns) }

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// slowHub is a hub with n subscriptions to topic whose callbacks never
// answer, each at its own URL on one silent server.
func slowHub(t *testing.T, n int, o Options) (*Hub, *silent) {
	t.Helper()
	s := newSilent(t)
	st := &memStore{subs: map[string]feed.Subscription{}}
	now := time.Now()
	for i := range n {
		st.subs[fmt.Sprint(i)] = feed.Subscription{Topic: topic, Callback: fmt.Sprintf("http://%s/cb/%d", s.ln.Addr(), i), Lease: time.Hour, Expires: now.Add(time.Hour), Created: now}
	}
	o.URL, o.Client = "http://agg.test/websub", &http.Client{}
	h := New(st, oneTopic{}, o)
	t.Cleanup(h.Close)
	return h, s
}

// TestSlowCallbacksBounded is the audit's repro: 3,000 subscribers whose
// callbacks never answer, and three changes. Before, every change started
// a goroutine per subscriber (here +19,461 goroutines, +14,194 descriptors,
// +89 MB of heap); now a fixed pool of workers delivers, one pending
// delivery per subscriber.
func TestSlowCallbacksBounded(t *testing.T) {
	const workers = 16
	g0, fd0, heap0 := runtime.NumGoroutine(), openFDs(), heapMB()
	h, s := slowHub(t, 3000, Options{Timeout: time.Minute, Workers: workers})
	for range 3 {
		if err := h.Publish(topic); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every worker to be stuck on a callback", func() bool { return s.held() == workers })
	time.Sleep(100 * time.Millisecond) // would any more be started, they would be now
	g, fd, heap := runtime.NumGoroutine()-g0, openFDs()-fd0, heapMB()-heap0
	t.Logf("goroutines +%d, descriptors +%d (%d of them the callback server's), heap %+.1f MB", g, fd, s.held(), heap)
	if s.held() != workers {
		t.Errorf("%d deliveries in flight, want %d (the workers)", s.held(), workers)
	}
	if g > 4*workers+10 {
		t.Errorf("goroutines +%d, want at most %d", g, 4*workers+10)
	}
	if fd > 3*workers+10 {
		t.Errorf("descriptors +%d, want at most %d", fd, 3*workers+10)
	}
	h.mu.Lock()
	pending := len(h.pending)
	h.mu.Unlock()
	if pending > 3000 {
		t.Errorf("%d deliveries pending for 3,000 subscribers", pending)
	}
}

// TestSubscriptionCaps: past the caps per topic and in all, a new
// subscription is refused with 503; renewing one is not.
func TestSubscriptionCaps(t *testing.T) {
	h, st := newHub(t, Options{MaxSubscriptionsPerTopic: 2, MaxSubscriptions: 3})
	cb := newCallback(t, true, 200)
	sub := func(path, topic string) int {
		return post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL+path)).Code
	}
	for _, p := range []string{"/a", "/b"} {
		if code := sub(p, topic); code != 202 {
			t.Fatalf("subscribe %s: %d", p, code)
		}
	}
	waitFor(t, "two subscriptions", func() bool { return st.len() == 2 })
	if code := sub("/c", topic); code != http.StatusServiceUnavailable {
		t.Errorf("a third on one topic: %d, want 503", code)
	}
	if code := sub("/a", topic); code != 202 {
		t.Errorf("a renewal at the cap: %d, want 202", code)
	}
	st.PutSubscription(context.Background(), feed.Subscription{Topic: "http://agg.test/feeds/other.atom", Callback: "http://x/"})
	h.o.MaxSubscriptionsPerTopic = 10
	if code := sub("/d", topic); code != http.StatusServiceUnavailable {
		t.Errorf("a fourth in all: %d, want 503", code)
	}
}

// TestVerificationsBounded: past Workers verifications in flight, a
// subscription request is answered 503 rather than start another.
func TestVerificationsBounded(t *testing.T) {
	s := newSilent(t)
	h, _ := newHub(t, Options{Workers: 1, Timeout: time.Minute})
	cb := "http://" + s.ln.Addr().String() + "/cb"
	if code := post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb)).Code; code != 202 {
		t.Fatalf("first: %d", code)
	}
	waitFor(t, "the verification to hang", func() bool { return s.held() == 1 })
	if code := post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb+"2")).Code; code != http.StatusServiceUnavailable {
		t.Errorf("second while the first hangs: %d, want 503", code)
	}
}

// TestNoRedirects: neither a verification nor a delivery follows a
// redirect to another host.
func TestNoRedirects(t *testing.T) {
	other := newCallback(t, true, 200)
	var mu sync.Mutex
	hits := 0
	rd := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	h, st := newHub(t, Options{Retries: -1})
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", rd+"/cb"))
	now := time.Now()
	st.PutSubscription(context.Background(), feed.Subscription{Topic: topic, Callback: rd + "/cb2", Lease: time.Hour, Expires: now.Add(time.Hour), Created: now})
	if err := h.Publish(topic); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a verification and a delivery", func() bool { mu.Lock(); defer mu.Unlock(); return hits == 2 })
	h.Close()
	if v, p := other.counts(); v+p != 0 {
		t.Errorf("the redirect target got %d verifications and %d deliveries, want none", v, p)
	}
	if st.len() != 1 {
		t.Errorf("%d subscriptions, want only the one put by hand (a redirect does not verify)", st.len())
	}
}

// TestLimiterForgetsTheOldest: at maxClients clients the least recently
// seen is forgotten; before, every client was, so a client held at its
// rate was let go by one new address.
func TestLimiterForgetsTheOldest(t *testing.T) {
	h, _ := newHub(t, Options{Burst: 1})
	for i := range maxClients - 1 {
		h.allow(fmt.Sprintf("10.%d.%d.1", i/256, i%256))
	}
	if !h.allow("192.0.2.1") || h.allow("192.0.2.1") {
		t.Fatal("burst of 1 not applied")
	}
	h.allow("198.51.100.1") // one client past maxClients
	if h.allow("192.0.2.1") {
		t.Error("a client at its limit was let go when a new one came")
	}
	if !h.allow("10.0.0.1") {
		t.Error("the oldest client was not forgotten")
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
