package push_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/push"
	"github.com/kpolicy/aggregator/internal/push/pushtest"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// atom is a feed naming hub and self, with one entry per id.
func atom(hub, self string, ids ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<feed xmlns="http://www.w3.org/2005/Atom"><title>Pushed</title><id>urn:pushed</id><updated>2026-03-01T09:00:00Z</updated>
<link rel="hub" href="%s"/><link rel="self" href="%s"/>`, hub, self)
	for _, id := range ids {
		fmt.Fprintf(&b, `<entry><id>urn:%s</id><title>Entry %s</title><link href="https://example.org/%s"/><updated>2026-03-01T09:00:00Z</updated></entry>`, id, id, id)
	}
	b.WriteString("</feed>")
	return []byte(b.String())
}

// rig is a source that names a spec hub, the store, the poller and a
// running subscriber whose callback is served on loopback.
type rig struct {
	hub    *pushtest.Hub
	db     *bolt.DB
	poller *fetch.Poller
	sub    *push.Subscriber
	src    feed.Source
	topic  string
	stored atomic.Int32
}

func newRig(t *testing.T, lease time.Duration) *rig {
	t.Helper()
	r := &rig{hub: pushtest.New(t)}
	r.hub.Lease = lease
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Write(atom(r.hub.URL, origin.URL+"/feed", "1"))
	}))
	t.Cleanup(origin.Close)
	r.topic = origin.URL + "/feed"
	r.src = feed.Source{ID: "pushed", URL: r.topic, Interval: time.Hour}

	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	client := fetch.NewClient(fetch.Options{AllowPrivate: true, Timeout: 5 * time.Second})
	r.poller = fetch.NewPoller(client, parse.New(), db, fetch.PollerOptions{MaxInterval: 24 * time.Hour})
	if res := r.poller.Poll(t.Context(), r.src); res.Err != nil {
		t.Fatal(res.Err)
	}

	mux := http.NewServeMux()
	cb := httptest.NewServer(mux)
	t.Cleanup(cb.Close)
	r.sub = push.New(r.poller, db, []feed.Source{r.src}, push.Options{
		BaseURL: cb.URL, Client: client.HTTPClient(), MinLease: time.Second, Sweep: 20 * time.Millisecond,
		VerifyTimeout: 2 * time.Second, OnDelivery: func(fetch.Result) { r.stored.Add(1) },
	})
	mux.Handle(push.CallbackPrefix, r.sub)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.sub.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

func (r *rig) state(t *testing.T) feed.SourceState {
	t.Helper()
	st, err := r.db.State(t.Context(), r.src.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// subscribed waits until both the hub and the state hold the subscription.
func (r *rig) subscribed(t *testing.T) {
	t.Helper()
	waitFor(t, "the subscription", func() bool { return len(r.hub.Subs(r.topic)) == 1 && r.state(t).Push.Active(time.Now()) })
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSubscribeVerifyDeliver: a polled feed naming a hub is subscribed to
// (the hub verifies the intent), a signed delivery is stored and a forged
// one is not, and the next poll comes after max_interval, not the hour.
func TestSubscribeVerifyDeliver(t *testing.T) {
	r := newRig(t, time.Hour)
	r.subscribed(t)
	sub := r.hub.Subs(r.topic)[0]
	p := r.state(t).Push
	if len(p.Secret) < 64 || sub.Secret != p.Secret {
		t.Errorf("secret %q (hub has %q), want 32 random bytes in hex", p.Secret, sub.Secret)
	}
	if want := r.sub.Callback(r.src.ID, p.Token); sub.Callback != want {
		t.Errorf("callback %q, want %q", sub.Callback, want)
	}

	forged := atom(r.hub.URL, r.topic, "1", "forged")
	if codes := r.hub.Publish(r.topic, "application/atom+xml", forged, "not the secret"); len(codes) != 1 || codes[0] != http.StatusAccepted {
		t.Fatalf("forged delivery answered %v, want [202]", codes)
	}
	if code := r.hub.Deliver(sub.Callback, r.topic, "application/atom+xml", forged, ""); code != http.StatusAccepted {
		t.Fatalf("unsigned delivery answered %d, want 202", code)
	}
	if code := r.hub.Deliver(sub.Callback, r.topic, "application/atom+xml", forged, "sha1="+strings.Repeat("0", 40)); code != http.StatusAccepted {
		t.Fatalf("sha1 delivery answered %d, want 202", code)
	}
	signed := atom(r.hub.URL, r.topic, "1", "2")
	if codes := r.hub.Publish(r.topic, "application/atom+xml", signed, ""); len(codes) != 1 || codes[0] != http.StatusNoContent {
		t.Fatalf("signed delivery answered %v, want [204]", codes)
	}
	items, err := r.db.ItemsAfter(t.Context(), []string{r.src.ID}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, it := range items {
		links = append(links, it.Link)
	}
	if got, want := strings.Join(links, " "), "https://example.org/1 https://example.org/2"; !sameSet(links, strings.Fields(want)) {
		t.Errorf("stored %s, want %s", got, want)
	}
	c := r.sub.Counts()
	if c[push.Stored] != 1 || c[push.BadSignature] != 2 || c[push.Unsigned] != 1 || r.stored.Load() != 1 {
		t.Errorf("counts %v, OnDelivery %d", c, r.stored.Load())
	}
	if st := r.state(t); st.Push.LastDelivery.IsZero() {
		t.Error("delivery not recorded on the state")
	}

	res := r.poller.Poll(t.Context(), r.src)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if next := time.Until(res.NextPoll); next < 50*time.Minute || next > time.Hour {
		// The lease (1 h) ends before max_interval (24 h): the next poll is when it ends.
		t.Errorf("next poll in %v, want when the lease ends (within the hour)", next)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// TestRenewBeforeExpiry: with a 3 s lease the subscriber renews after
// about 2.7 s, to the same callback and secret; the lease moves on.
func TestRenewBeforeExpiry(t *testing.T) {
	r := newRig(t, 3*time.Second)
	r.subscribed(t)
	first := r.state(t).Push
	waitFor(t, "the renewal", func() bool { return r.state(t).Push.Expires.After(first.Expires) })
	if got := r.hub.Requests("subscribe"); got < 2 {
		t.Errorf("subscribe requests %d, want ≥ 2", got)
	}
	renewed := r.state(t).Push
	if renewed.Token != first.Token || renewed.Secret != first.Secret || renewed.State != feed.PushActive {
		t.Errorf("renewal changed the subscription: %+v, was %+v", renewed, first)
	}
	if n := len(r.hub.Subs(r.topic)); n != 1 {
		t.Errorf("hub keeps %d subscriptions, want 1", n)
	}
}

// TestUnsubscribeOnReload: a source disabled by a reload is unsubscribed
// (the hub verifies the intent and drops it), its state forgets the
// subscription, and a delivery to its old callback is answered 410 Gone.
func TestUnsubscribeOnReload(t *testing.T) {
	r := newRig(t, time.Hour)
	r.subscribed(t)
	old := r.hub.Subs(r.topic)[0]
	disabled := r.src
	disabled.Disabled = true
	r.sub.Configure([]feed.Source{disabled})
	waitFor(t, "the unsubscription", func() bool { return len(r.hub.Subs(r.topic)) == 0 && r.state(t).Push == (feed.Push{}) })
	body := atom(r.hub.URL, r.topic, "3")
	if code := r.hub.Deliver(old.Callback, r.topic, "application/atom+xml", body, "sha256="+pushtest.Sign(old.Secret, body)); code != http.StatusGone {
		t.Errorf("delivery after unsubscribing answered %d, want 410", code)
	}
	if r.hub.Requests("unsubscribe") != 1 {
		t.Errorf("unsubscribe requests %d, want 1", r.hub.Requests("unsubscribe"))
	}
}

// TestVerificationRefused: the callback echoes no challenge for what it
// did not ask: another topic, another token, an unsubscription it did not
// request, a lease under the minimum, an unknown mode.
func TestVerificationRefused(t *testing.T) {
	r := newRig(t, time.Hour)
	r.subscribed(t)
	p := r.state(t).Push
	cb := r.sub.Callback(r.src.ID, p.Token)
	for _, c := range []struct{ name, url string }{
		{"other topic", cb + "?hub.mode=subscribe&hub.topic=https://evil.example/&hub.challenge=x&hub.lease_seconds=3600"},
		{"other token", r.sub.Callback(r.src.ID, "0000") + "?hub.mode=subscribe&hub.topic=" + r.topic + "&hub.challenge=x&hub.lease_seconds=3600"},
		{"unrequested renewal", cb + "?hub.mode=subscribe&hub.topic=" + r.topic + "&hub.challenge=x&hub.lease_seconds=3600"},
		{"unrequested unsubscribe", cb + "?hub.mode=unsubscribe&hub.topic=" + r.topic + "&hub.challenge=x"},
		{"unknown source", r.sub.Callback("nope", p.Token) + "?hub.mode=subscribe&hub.topic=" + r.topic + "&hub.challenge=x&hub.lease_seconds=3600"},
		{"bad mode", cb + "?hub.mode=publish&hub.topic=" + r.topic + "&hub.challenge=x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Get(c.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
		})
	}
	if got := r.state(t).Push; got != p {
		t.Errorf("state changed: %+v, was %+v", got, p)
	}
}

func TestValid(t *testing.T) {
	secret, body := []byte("s3cret"), []byte("<feed/>")
	good := pushtest.Sign(string(secret), body)
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"sha256=" + good, true},
		{"SHA256=" + good, true},
		{"sha256=" + strings.ToUpper(good), true},
		{"sha256=" + pushtest.Sign("other", body), false},
		{"sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709", false},
		{"sha256=zz", false},
		{"sha256", false},
		{"md5=" + good, false},
		{"", false},
	} {
		if got := push.Valid(c.header, secret, body); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

// TestCallbackOnAnotherInstance: a delivery that reaches a subscriber
// which did not subscribe (another instance on the same store, behind a
// load balancer) is checked and stored from the saved subscription.
func TestCallbackOnAnotherInstance(t *testing.T) {
	r := newRig(t, time.Hour)
	r.subscribed(t)
	sub := r.hub.Subs(r.topic)[0]

	var stored atomic.Int32
	client := fetch.NewClient(fetch.Options{AllowPrivate: true, Timeout: 5 * time.Second})
	mux := http.NewServeMux()
	cb := httptest.NewServer(mux)
	t.Cleanup(cb.Close)
	other := push.New(r.poller, r.db, []feed.Source{r.src}, push.Options{
		BaseURL: cb.URL, Client: client.HTTPClient(), MinLease: time.Second,
		OnDelivery: func(fetch.Result) { stored.Add(1) },
	})
	mux.Handle(push.CallbackPrefix, other)
	_, path, _ := strings.Cut(strings.TrimPrefix(sub.Callback, "http://"), "/")
	callback := cb.URL + "/" + path

	signed := atom(r.hub.URL, r.topic, "1", "3")
	mac := hmac.New(sha256.New, []byte(sub.Secret))
	mac.Write(signed)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if code := r.hub.Deliver(callback, r.topic, "application/atom+xml", signed, sig); code != http.StatusNoContent {
		t.Fatalf("signed delivery to the other instance answered %d, want 204", code)
	}
	if got := stored.Load(); got != 1 {
		t.Errorf("the other instance stored %d deliveries, want 1", got)
	}
	if code := r.hub.Deliver(callback, r.topic, "application/atom+xml", signed, "sha256="+strings.Repeat("0", 64)); code != http.StatusAccepted {
		t.Errorf("badly signed delivery to the other instance answered %d, want 202", code)
	}
	if code := r.hub.Deliver(cb.URL+push.CallbackPrefix+r.src.ID+"/wrongtoken", r.topic, "application/atom+xml", signed, sig); code != http.StatusGone {
		t.Errorf("delivery with another token answered %d, want 410", code)
	}
}

// TestSlowDelivery: a serve gives a whole request a short read deadline
// (10 s; here 200 ms); a delivery's body, up to MaxBody, gets longer from
// the callback itself, and is stored rather than cut off.
func TestSlowDelivery(t *testing.T) {
	r := newRig(t, time.Hour)
	r.subscribed(t)
	sub := r.hub.Subs(r.topic)[0]
	slow := httptest.NewUnstartedServer(r.sub)
	slow.Config.ReadHeaderTimeout = 200 * time.Millisecond
	slow.Config.ReadTimeout = 200 * time.Millisecond
	slow.Start()
	defer slow.Close()
	u, err := url.Parse(sub.Callback)
	if err != nil {
		t.Fatal(err)
	}
	body := atom(r.hub.URL, r.topic, "1", "slow")
	c, err := net.Dial("tcp", slow.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/atom+xml\r\nX-Hub-Signature: sha256=%s\r\nContent-Length: %d\r\n\r\n",
		u.Path, pushtest.Sign(sub.Secret, body), len(body))
	c.Write(body[:10])
	time.Sleep(500 * time.Millisecond) // past the server's read deadline
	if _, err := c.Write(body[10:]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || r.sub.Counts()[push.Stored] != 1 {
		t.Errorf("slow delivery: %d, counts %v; want 204 and it stored", resp.StatusCode, r.sub.Counts())
	}
}
