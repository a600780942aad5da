// Package websub is the aggregator's WebSub hub (W3C Recommendation, 2018)
// for its own channels: it takes subscription requests at POST /websub,
// verifies the subscriber's intent, keeps verified subscriptions with their
// leases in the store, and, when a channel changes, POSTs the new document
// to every subscriber of its topics, signed when the subscriber gave a
// secret. It can also ping external hubs (hub.mode=publish).
//
// It does not render documents nor read the store's items: it asks Topics
// for the current document of a topic. It makes requests only through the
// *http.Client it is given (cmd/aggregator passes the fetcher's, with its
// private-address guard), never following a redirect, and keeps no
// package-level state.
//
// Everything a stranger can make it hold is bounded: subscriptions per
// topic and in all, verifications in flight, deliveries (a fixed pool of
// workers over a bounded queue, one pending delivery per subscription,
// which sends the document current when it runs: see pool.go), and the
// per-client rate limiters (the least recently seen are forgotten).
package websub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Store keeps subscriptions across restarts.
type Store interface {
	PutSubscription(ctx context.Context, s feed.Subscription) error
	DeleteSubscription(ctx context.Context, topic, callback string) error
	// Subscriptions returns those of topic, or all when topic is "".
	Subscriptions(ctx context.Context, topic string) ([]feed.Subscription, error)
}

// Topics gives the current document of a topic URL, and false for a URL
// that is not one of the aggregator's channel documents.
type Topics interface {
	Document(topic string) (contentType string, body []byte, ok bool)
}

// Defaults for zero Options fields.
const (
	DefaultLease    = 10 * 24 * time.Hour
	DefaultMinLease = time.Hour
	DefaultMaxLease = 30 * 24 * time.Hour
	DefaultTimeout  = 10 * time.Second
	DefaultRetries  = 3
	DefaultBackoff  = 2 * time.Second
	// maxSecret is the spec's bound: hub.secret MUST be under 200 bytes.
	maxSecret = 199
	// maxCallback bounds the callback URL.
	maxCallback = 2000
	// maxClients bounds the per-client limiters kept; past it the least
	// recently seen client is forgotten (and starts afresh).
	maxClients = 10000

	DefaultMaxSubscriptions         = 10_000
	DefaultMaxSubscriptionsPerTopic = 1_000
	DefaultWorkers                  = 16
	DefaultQueue                    = 4096
)

// Options configures a Hub.
type Options struct {
	// URL is the hub's own address, sent in the Link headers of
	// deliveries (rel="hub"). Required.
	URL string
	// Client makes verification and delivery requests; each request is
	// bounded by Timeout. Required.
	Client *http.Client
	// CheckHost refuses a callback host (name or IP, no port) that must not
	// be called, e.g. one resolving to a private address; nil allows all.
	CheckHost func(ctx context.Context, host string) error
	// ExternalHubs are pinged with hub.mode=publish on every change.
	ExternalHubs []string
	Lease        time.Duration // lease when the subscriber asks for none
	MinLease     time.Duration // shortest lease granted
	MaxLease     time.Duration // longest lease granted
	Timeout      time.Duration // one verification or delivery request
	Retries      int           // delivery attempts after the first
	Backoff      time.Duration // wait before the first retry; each later wait is 4 times longer
	// Rate and Burst limit subscription requests per client IP (an IPv6
	// /64); 10 a minute with bursts of 10 when zero.
	Rate  rate.Limit
	Burst int
	// MaxSubscriptions and MaxSubscriptionsPerTopic cap the subscriptions
	// kept; a new subscription past either is refused (503), a renewal is
	// not. Defaults DefaultMaxSubscriptions(PerTopic).
	MaxSubscriptions         int
	MaxSubscriptionsPerTopic int
	// Workers make the verifications and deliveries, at most this many at
	// once (DefaultWorkers); Queue bounds the deliveries waiting for one
	// (DefaultQueue): past it a delivery is dropped and logged.
	Workers int
	Queue   int
	Now     func() time.Time // the clock for leases; time.Now when nil
	// Logger records failed verifications and deliveries.
	Logger *slog.Logger
}

// Hub is a WebSub hub. Its methods are safe for concurrent use. Close
// stops it and waits for the requests in flight.
type Hub struct {
	store  Store
	topics Topics
	o      Options

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the workers and verifications

	verifying chan struct{} // a slot per verification in flight
	queue     chan queued   // deliveries waiting for a worker

	mu      sync.Mutex
	clients *simplelru.LRU[string, *rate.Limiter]
	pending map[job]bool        // queued or waiting to retry: one per subscription or ping
	retries map[job]*time.Timer // waiting to retry
	closed  bool
}

// New returns a hub that keeps subscriptions in store and delivers the
// documents topics gives.
func New(store Store, topics Topics, o Options) *Hub {
	orDefault(&o.Lease, DefaultLease)
	orDefault(&o.MinLease, DefaultMinLease)
	orDefault(&o.MaxLease, DefaultMaxLease)
	orDefault(&o.Timeout, DefaultTimeout)
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	orDefault(&o.Backoff, DefaultBackoff)
	orDefault(&o.Rate, rate.Every(6*time.Second))
	orDefault(&o.Burst, 10)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	orDefault(&o.MaxSubscriptions, DefaultMaxSubscriptions)
	orDefault(&o.MaxSubscriptionsPerTopic, DefaultMaxSubscriptionsPerTopic)
	orDefault(&o.Workers, DefaultWorkers)
	orDefault(&o.Queue, DefaultQueue)
	// A callback is called where it is: a redirect elsewhere is an answer
	// that is not 2xx, never followed.
	client := *o.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &client
	clients, _ := simplelru.NewLRU[string, *rate.Limiter](maxClients, nil) // the size is positive
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{store: store, topics: topics, o: o, ctx: ctx, cancel: cancel, clients: clients,
		verifying: make(chan struct{}, o.Workers), queue: make(chan queued, o.Queue),
		pending: map[job]bool{}, retries: map[job]*time.Timer{}}
	for range o.Workers {
		h.wg.Go(h.work)
	}
	return h
}

// orDefault sets *v to d when it is zero or negative.
func orDefault[T int | time.Duration | rate.Limit](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Close cancels pending verifications, deliveries and retries, and waits
// for them to end.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for _, t := range h.retries {
		t.Stop()
	}
	clear(h.retries)
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// request is one validated subscription request.
type request struct {
	mode, callback, topic, secret string
	lease                         time.Duration
}

// ServeHTTP answers a subscription request (WebSub §5.1): 202 Accepted,
// then verification of intent in the background (§5.3); 400 with a reason
// for a bad request, 429 past the client's rate, 503 when the hub holds
// as many subscriptions as it may or is verifying as many as it can.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.allow(clientIP(r)) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many subscription requests", http.StatusTooManyRequests)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form body", http.StatusBadRequest)
		return
	}
	req, err := h.parse(r.Context(), r.PostForm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.mode == "subscribe" {
		if err := h.room(req.topic, req.callback); errors.Is(err, errFull) {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		} else if err != nil {
			h.o.Logger.Error("websub subscription count", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	select {
	case h.verifying <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "60")
		http.Error(w, "the hub is busy verifying other subscriptions: try again later", http.StatusServiceUnavailable)
		return
	}
	h.wg.Go(func() {
		defer func() { <-h.verifying }()
		if err := h.verify(req); err != nil {
			h.o.Logger.Warn("websub verification", "mode", req.mode, "topic", req.topic, "callback", req.callback, "err", err)
		}
	})
	w.WriteHeader(http.StatusAccepted)
}

// errFull is a subscription past MaxSubscriptions or
// MaxSubscriptionsPerTopic.
var errFull = errors.New("the hub holds as many subscriptions as it may")

// room returns errFull when a new subscription of callback to topic would
// pass a cap; renewing one that exists is always allowed.
func (h *Hub) room(topic, callback string) error {
	all, err := h.store.Subscriptions(h.ctx, "")
	if err != nil {
		return err
	}
	of := 0
	for _, s := range all {
		if s.Topic == topic {
			if s.Callback == callback {
				return nil
			}
			of++
		}
	}
	if of >= h.o.MaxSubscriptionsPerTopic {
		return fmt.Errorf("%w for this topic (%d)", errFull, h.o.MaxSubscriptionsPerTopic)
	}
	if len(all) >= h.o.MaxSubscriptions {
		return fmt.Errorf("%w (%d)", errFull, h.o.MaxSubscriptions)
	}
	return nil
}

func (h *Hub) parse(ctx context.Context, form url.Values) (request, error) {
	req := request{
		mode:     form.Get("hub.mode"),
		callback: form.Get("hub.callback"),
		topic:    form.Get("hub.topic"),
		secret:   form.Get("hub.secret"),
		lease:    h.o.Lease,
	}
	if req.mode != "subscribe" && req.mode != "unsubscribe" {
		return req, fmt.Errorf("hub.mode must be subscribe or unsubscribe (got %q)", req.mode)
	}
	u, err := url.Parse(req.callback)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(req.callback) > maxCallback {
		return req, fmt.Errorf("hub.callback must be an absolute http(s) URL of at most %d bytes", maxCallback)
	}
	if _, _, ok := h.topics.Document(req.topic); !ok {
		return req, fmt.Errorf("hub.topic %q is not a feed of this aggregator", req.topic)
	}
	if len(req.secret) > maxSecret {
		return req, fmt.Errorf("hub.secret must be under 200 bytes")
	}
	if s := form.Get("hub.lease_seconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return req, fmt.Errorf("hub.lease_seconds must be a positive whole number (got %q)", s)
		}
		req.lease = time.Duration(min(n, int64(h.o.MaxLease/time.Second))) * time.Second
	}
	req.lease = min(max(req.lease, h.o.MinLease), h.o.MaxLease)
	if h.o.CheckHost != nil {
		if err := h.o.CheckHost(ctx, u.Hostname()); err != nil {
			return req, fmt.Errorf("hub.callback refused: %v", err)
		}
	}
	return req, nil
}

// verify asks the subscriber to confirm req (§5.3) and, when it echoes the
// challenge with a 2xx status, records or removes the subscription.
func (h *Hub) verify(req request) error {
	challenge := rand.Text()
	u, err := url.Parse(req.callback)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("hub.mode", req.mode)
	q.Set("hub.topic", req.topic)
	q.Set("hub.challenge", challenge)
	if req.mode == "subscribe" {
		q.Set("hub.lease_seconds", strconv.FormatInt(int64(req.lease/time.Second), 10))
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(h.ctx, h.o.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := h.o.Client.Do(hreq)
	if err != nil {
		return fmt.Errorf("verify %s: %w", req.callback, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(challenge))+1))
	if err != nil {
		return fmt.Errorf("verify %s: %w", req.callback, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || string(body) != challenge {
		return fmt.Errorf("verify %s: not confirmed (status %d)", req.callback, resp.StatusCode)
	}
	if req.mode == "unsubscribe" {
		return h.store.DeleteSubscription(h.ctx, req.topic, req.callback)
	}
	if err := h.room(req.topic, req.callback); err != nil {
		return fmt.Errorf("verify %s: %w", req.callback, err) // others were verified meanwhile
	}
	now := h.o.Now()
	return h.store.PutSubscription(h.ctx, feed.Subscription{
		Topic: req.topic, Callback: req.callback, Secret: req.secret,
		Lease: req.lease, Expires: now.Add(req.lease), Created: now,
	})
}

// Publish queues a delivery of topic's document to every subscriber whose
// lease runs (§7), and a ping of each external hub; the workers send the
// document current when each delivery runs. Expired subscriptions are
// removed. It never waits for a delivery: one already pending for a
// subscriber is not queued twice, and past Queue deliveries are dropped
// and logged.
func (h *Hub) Publish(topic string) error {
	for _, ext := range h.o.ExternalHubs {
		h.enqueue(queued{job: job{topic: topic, target: ext, ping: true}})
	}
	if _, _, ok := h.topics.Document(topic); !ok {
		return fmt.Errorf("publish %s: no such topic", topic)
	}
	subs, err := h.store.Subscriptions(h.ctx, topic)
	if err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	now := h.o.Now()
	for _, s := range subs {
		if !s.Active(now) {
			if err := h.store.DeleteSubscription(h.ctx, s.Topic, s.Callback); err != nil {
				return fmt.Errorf("publish %s: %w", topic, err)
			}
			continue
		}
		h.enqueue(queued{job: job{topic: s.Topic, target: s.Callback}, sub: s})
	}
	return nil
}

// errGone marks a subscriber that answered 410 Gone.
var errGone = errors.New("subscriber answered 410 Gone")

// deliver POSTs the topic's current document to s, signed with its
// secret. A 410 ends the subscription; any other failure is returned for a
// retry.
func (h *Hub) deliver(s feed.Subscription) error {
	if !s.Active(h.o.Now()) {
		return nil // expired since it was queued
	}
	contentType, body, ok := h.topics.Document(s.Topic)
	if !ok {
		return nil // the channel is gone
	}
	var sig string
	if s.Secret != "" {
		m := hmac.New(sha256.New, []byte(s.Secret))
		m.Write(body)
		sig = "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	err := h.post(s.Callback, contentType, body, func(hr *http.Request) {
		if sig != "" {
			hr.Header.Set("X-Hub-Signature", sig)
		}
	}, s.Topic)
	if err == errGone {
		if err := h.store.DeleteSubscription(h.ctx, s.Topic, s.Callback); err != nil {
			h.o.Logger.Error("websub unsubscribe on 410", "callback", s.Callback, "err", err)
		}
		return nil
	}
	return err
}

// ping tells an external hub that topic changed.
func (h *Hub) ping(j job) error {
	form := url.Values{"hub.mode": {"publish"}, "hub.url": {j.topic}}
	return h.post(j.target, "application/x-www-form-urlencoded", []byte(form.Encode()), nil, j.topic)
}

// post POSTs body to target with the hub and self Link headers; nil for a
// 2xx answer, errGone for 410.
func (h *Hub) post(target, contentType string, body []byte, edit func(*http.Request), topic string) error {
	ctx, cancel := context.WithTimeout(h.ctx, h.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Add("Link", "<"+h.o.URL+`>; rel="hub"`)
	req.Header.Add("Link", "<"+topic+`>; rel="self"`)
	if edit != nil {
		edit(req)
	}
	resp, err := h.o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode == http.StatusGone:
		return errGone
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// allow reports whether the client may make another request now. The
// limiters of the maxClients clients seen last are kept: a flood of new
// addresses forgets the oldest, not everyone.
func (h *Hub) allow(client string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.clients.Get(client)
	if !ok {
		l = rate.NewLimiter(h.o.Rate, h.o.Burst)
		h.clients.Add(client, l)
	}
	return l.Allow()
}

// clientIP is the client the request came from: its address, or the /64
// of an IPv6 address, which one subscriber holds whole (no proxy headers
// are trusted: anyone could set them).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(strings.TrimSpace(host))
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
