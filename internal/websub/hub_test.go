package websub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

const topic = "http://agg.test/feeds/news.atom"

type memStore struct {
	mu   sync.Mutex
	subs map[string]feed.Subscription
}

func (m *memStore) PutSubscription(_ context.Context, s feed.Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.Topic+" "+s.Callback] = s
	return nil
}
func (m *memStore) DeleteSubscription(_ context.Context, topic, cb string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, topic+" "+cb)
	return nil
}
func (m *memStore) Subscriptions(_ context.Context, topic string) ([]feed.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []feed.Subscription
	for _, s := range m.subs {
		if topic == "" || s.Topic == topic {
			out = append(out, s)
		}
	}
	return out, nil
}
func (m *memStore) len() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.subs) }

type oneTopic struct{}

func (oneTopic) Document(t string) (string, []byte, bool) {
	return "application/atom+xml", []byte("<feed/>"), t == topic
}

// clock is a settable clock for leases.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }
func newClock() *clock               { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func newHub(t *testing.T, o Options) (*Hub, *memStore) {
	t.Helper()
	st := &memStore{subs: map[string]feed.Subscription{}}
	o.URL, o.Client = "http://agg.test/websub", &http.Client{}
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	h := New(st, oneTopic{}, o)
	t.Cleanup(h.Close)
	return h, st
}

func post(h http.Handler, v url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/websub", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// callback answers verifications by echoing (or not) and counts deliveries,
// answering them with status.
type callback struct {
	*httptest.Server
	mu       sync.Mutex
	echo     bool
	status   int
	verifies int
	posts    int
}

func newCallback(t *testing.T, echo bool, status int) *callback {
	c := &callback{echo: echo, status: status}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.Method == "GET" {
			c.verifies++
			if c.echo {
				io.WriteString(w, r.URL.Query().Get("hub.challenge"))
			} else {
				io.WriteString(w, "nope")
			}
			return
		}
		c.posts++
		w.WriteHeader(c.status)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *callback) counts() (int, int) { c.mu.Lock(); defer c.mu.Unlock(); return c.verifies, c.posts }

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestSubscribeRequests(t *testing.T) {
	h, _ := newHub(t, Options{CheckHost: func(_ context.Context, host string) error {
		if host == "10.0.0.1" {
			return errors.New("private address")
		}
		return nil
	}})
	for name, tc := range map[string]struct {
		v    url.Values
		want int
	}{
		"bad mode":       {form("hub.mode", "publish", "hub.topic", topic, "hub.callback", "http://cb.example/"), 400},
		"relative cb":    {form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", "/cb"), 400},
		"unknown topic":  {form("hub.mode", "subscribe", "hub.topic", "http://other/", "hub.callback", "http://cb.example/"), 400},
		"long secret":    {form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", "http://cb.example/", "hub.secret", strings.Repeat("s", 200)), 400},
		"bad lease":      {form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", "http://cb.example/", "hub.lease_seconds", "-5"), 400},
		"private cb":     {form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", "http://10.0.0.1/cb"), 400},
		"good subscribe": {form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", "http://cb.example/"), 202},
	} {
		if got := post(h, tc.v).Code; got != tc.want {
			t.Errorf("%s: status %d, want %d", name, got, tc.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	h, _ := newHub(t, Options{Burst: 3})
	v := form("hub.mode", "subscribe", "hub.topic", "http://other/", "hub.callback", "http://cb.example/")
	codes := []int{}
	for range 5 {
		codes = append(codes, post(h, v).Code)
	}
	if codes[2] != 400 || codes[3] != http.StatusTooManyRequests || codes[4] != http.StatusTooManyRequests {
		t.Errorf("statuses %v, want 3 answered then 429", codes)
	}
}

func TestVerificationMustEcho(t *testing.T) {
	h, st := newHub(t, Options{})
	cb := newCallback(t, false, 200)
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL))
	waitFor(t, "verification", func() bool { v, _ := cb.counts(); return v == 1 })
	h.Close() // waits for the verification to finish
	if st.len() != 0 {
		t.Error("a callback that did not echo the challenge was subscribed")
	}
}

func TestLeaseExpiry(t *testing.T) {
	clk := newClock()
	h, st := newHub(t, Options{Now: clk.Now})
	cb := newCallback(t, true, 200)
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL, "hub.lease_seconds", "7200"))
	waitFor(t, "subscription", func() bool { return st.len() == 1 })
	subs, _ := st.Subscriptions(context.Background(), topic)
	if got := subs[0].Expires.Sub(clk.Now()); got != 2*time.Hour {
		t.Errorf("lease %v, want 2h", got)
	}
	if err := h.Publish(topic); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { _, p := cb.counts(); return p == 1 })
	clk.Add(2*time.Hour + time.Second)
	if err := h.Publish(topic); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, p := cb.counts(); p != 1 || st.len() != 0 {
		t.Errorf("after the lease: %d deliveries, %d subscriptions; want 1 and 0", p, st.len())
	}
}

func TestLeaseBounds(t *testing.T) {
	h, st := newHub(t, Options{})
	cb := newCallback(t, true, 200)
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL, "hub.lease_seconds", "999999999"))
	waitFor(t, "subscription", func() bool { return st.len() == 1 })
	subs, _ := st.Subscriptions(context.Background(), topic)
	if subs[0].Lease != DefaultMaxLease {
		t.Errorf("lease %v, want the maximum %v", subs[0].Lease, DefaultMaxLease)
	}
}

func TestGoneEndsSubscription(t *testing.T) {
	h, st := newHub(t, Options{})
	cb := newCallback(t, true, http.StatusGone)
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL))
	waitFor(t, "subscription", func() bool { return st.len() == 1 })
	h.Publish(topic)
	waitFor(t, "unsubscription", func() bool { return st.len() == 0 })
	if _, p := cb.counts(); p != 1 {
		t.Errorf("%d deliveries, want 1 (no retry after 410)", p)
	}
}

func TestRetries(t *testing.T) {
	h, st := newHub(t, Options{Retries: 2})
	cb := newCallback(t, true, http.StatusServiceUnavailable)
	post(h, form("hub.mode", "subscribe", "hub.topic", topic, "hub.callback", cb.URL))
	waitFor(t, "subscription", func() bool { return st.len() == 1 })
	h.Publish(topic)
	waitFor(t, "3 attempts", func() bool { _, p := cb.counts(); return p == 3 })
	h.Close()
	if _, p := cb.counts(); p != 3 || st.len() != 1 {
		t.Errorf("%d attempts, %d subscriptions; want 3 and 1", p, st.len())
	}
}

// TestExternalHubPing checks that a change is announced to a configured
// external hub as the publish ping public hubs expect:
// hub.mode=publish&hub.url=TOPIC, form-encoded.
func TestExternalHubPing(t *testing.T) {
	type ping struct{ contentType, mode, url string }
	got := make(chan ping, 4)
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- ping{r.Header.Get("Content-Type"), r.PostForm.Get("hub.mode"), r.PostForm.Get("hub.url")}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ext.Close()
	h, _ := newHub(t, Options{ExternalHubs: []string{ext.URL}})
	if err := h.Publish(topic); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.contentType != "application/x-www-form-urlencoded" || p.mode != "publish" || p.url != topic {
			t.Errorf("ping = %+v, want a form with hub.mode=publish and hub.url=%s", p, topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the external hub was not pinged")
	}
}
