// Package pushtest is a WebSub hub for tests, written from the W3C WebSub
// recommendation (§5.1 subscription requests, §5.3 verification of intent,
// §7 content distribution, §8 authenticated distribution) and not from the
// aggregator's own hub (internal/websub), so the subscriber is tested
// against the spec rather than against ourselves. It keeps its
// subscriptions in memory and serves on a loopback httptest server.
package pushtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sub is a verified subscription, as the hub keeps it.
type Sub struct {
	Topic, Callback, Secret string
	Lease                   time.Duration
	Verified                time.Time
}

// Hub is a spec hub on a loopback server. It is also an http.Handler, to
// be served elsewhere (an in-process network): set URL to where it is.
type Hub struct {
	// URL is where subscribers send requests: the loopback server's /hub.
	URL string
	// Client sends the verifications and deliveries (a client with a 10 s
	// timeout; a test may give one that reaches an in-process network).
	// Lease is the lease granted (hub.lease_seconds in the verification);
	// zero grants what the subscriber asked for.
	Lease time.Duration

	Client *http.Client

	mu   sync.Mutex
	subs map[string]Sub // by topic + " " + callback
	// Requests counts the subscription requests received, by hub.mode.
	requests map[string]int
	errs     []error
	wg       sync.WaitGroup
}

// New starts a hub; it stops with the test.
func New(t testing.TB) *Hub {
	h := &Hub{Client: &http.Client{Timeout: 10 * time.Second}, subs: map[string]Sub{}, requests: map[string]int{}}
	srv := httptest.NewServer(h)
	h.URL = srv.URL + "/hub"
	t.Cleanup(func() {
		srv.Close()
		h.wg.Wait()
	})
	return h
}

// ServeHTTP takes a subscription request (§5.1): a form with hub.callback,
// hub.mode, hub.topic and, optionally, hub.lease_seconds and hub.secret.
// It answers 202 Accepted and verifies the intent on its own (§5.3).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/hub") {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	mode, topic, callback, secret := r.PostForm.Get("hub.mode"), r.PostForm.Get("hub.topic"), r.PostForm.Get("hub.callback"), r.PostForm.Get("hub.secret")
	cb, err := url.Parse(callback)
	switch {
	case mode != "subscribe" && mode != "unsubscribe":
		http.Error(w, "hub.mode must be subscribe or unsubscribe", http.StatusBadRequest)
		return
	case topic == "" || err != nil || !cb.IsAbs():
		http.Error(w, "hub.topic and an absolute hub.callback are required", http.StatusBadRequest)
		return
	case len(secret) >= 200: // §5.1: "MUST be less than 200 bytes"
		http.Error(w, "hub.secret too long", http.StatusBadRequest)
		return
	}
	lease := h.Lease
	if lease == 0 {
		if s, err := strconv.Atoi(r.PostForm.Get("hub.lease_seconds")); err == nil && s > 0 {
			lease = time.Duration(s) * time.Second
		} else {
			lease = 10 * 24 * time.Hour
		}
	}
	h.mu.Lock()
	h.requests[mode]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	h.wg.Go(func() { h.verify(mode, topic, callback, secret, lease) })
}

// verify sends the verification of intent (§5.3): a GET to the callback
// with hub.mode, hub.topic, hub.challenge and, for subscribe,
// hub.lease_seconds; the intent is verified when the subscriber answers
// 2xx with the challenge as its body. Only then does the hub keep (or
// drop) the subscription.
func (h *Hub) verify(mode, topic, callback, secret string, lease time.Duration) {
	challenge := randomHex(16)
	q := url.Values{"hub.mode": {mode}, "hub.topic": {topic}, "hub.challenge": {challenge}}
	if mode == "subscribe" {
		q.Set("hub.lease_seconds", strconv.Itoa(int(lease/time.Second)))
	}
	resp, err := h.Client.Get(addQuery(callback, q))
	if err != nil {
		h.fail(fmt.Errorf("verify %s: %w", mode, err))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || string(body) != challenge {
		return // not verified: §5.3.1, the hub does not act on the request
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := topic + " " + callback
	if mode == "unsubscribe" {
		delete(h.subs, key)
		return
	}
	h.subs[key] = Sub{Topic: topic, Callback: callback, Secret: secret, Lease: lease, Verified: time.Now()}
}

// Subs returns the verified subscriptions to topic.
func (h *Hub) Subs(topic string) []Sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sub
	for _, s := range h.subs {
		if s.Topic == topic {
			out = append(out, s)
		}
	}
	return out
}

// Requests returns how many subscription requests of mode were received.
func (h *Hub) Requests(mode string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[mode]
}

// Publish distributes body to every subscriber of topic (§7): a POST of
// the topic's new content with its Content-Type and the Link headers
// naming the hub and the topic, signed (§8) with the subscription's secret
// by sha256, or by forge's secret instead when forge is not "". It
// returns the status codes the callbacks answered.
func (h *Hub) Publish(topic, contentType string, body []byte, forge string) []int {
	var codes []int
	for _, s := range h.Subs(topic) {
		secret := s.Secret
		if forge != "" {
			secret = forge
		}
		codes = append(codes, h.Deliver(s.Callback, topic, contentType, body, "sha256="+Sign(secret, body)))
	}
	return codes
}

// Deliver POSTs body to callback with the given X-Hub-Signature ("": none)
// and returns the status answered (0 when none came).
func (h *Hub) Deliver(callback, topic, contentType string, body []byte, signature string) int {
	req, err := http.NewRequest(http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		h.fail(err)
		return 0
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Add("Link", "<"+h.URL+`>; rel="hub"`)
	req.Header.Add("Link", "<"+topic+`>; rel="self"`)
	if signature != "" {
		req.Header.Set("X-Hub-Signature", signature)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		h.fail(fmt.Errorf("deliver: %w", err))
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Sign is body's HMAC-SHA256 under secret, in hex (§8).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors returns what went wrong on the hub's side (a verification that
// could not be sent).
func (h *Hub) Errors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

func (h *Hub) fail(err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

func addQuery(u string, q url.Values) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	old := pu.Query()
	for k, v := range q {
		old[k] = v
	}
	pu.RawQuery = old.Encode()
	return pu.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
