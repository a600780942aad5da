// Package push is the WebSub subscriber (W3C WebSub §5–§8): sources that
// push. For each enabled source whose polled feed names a hub and its own
// URL (rel="hub", rel="self") it subscribes with a random hub.secret and a
// callback under the public base URL, answers the hub's verification of
// intent, renews the lease before it ends, and unsubscribes when the source
// is removed or disabled. A delivery is taken only with a valid
// X-Hub-Signature (sha256, sha384 or sha512), and then stored through the
// poller's own parse and save (fetch.Poller.Deliver), as a poll would.
//
// It owns one goroutine, Run's, which sends the (un)subscription requests;
// the callback is served by ServeHTTP on the server's goroutines. A
// subscription is kept on its source's state (feed.SourceState.Push),
// written only through the poller's per-source lock (Ingest.UpdateState),
// so a restart keeps it and no poll saves over it. The callback answers a
// hub from that saved state when the States it is given reads one source
// (StateReader): with several instances on one store, Run runs on one of
// them (internal/app's role), and a hub's verification or delivery may
// reach any. The package does not
// parse feeds, schedule polls or touch the store by any other way.
package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
)

// CallbackPrefix is the path under the base URL where hubs reach us:
// CallbackPrefix + SOURCE + "/" + TOKEN.
const CallbackPrefix = "/websub/callback/"

// Defaults of Options.
const (
	DefaultLease         = 7 * 24 * time.Hour // hub.lease_seconds asked for
	DefaultMinLease      = time.Minute        // a shorter lease offered is refused
	DefaultMaxLease      = 30 * 24 * time.Hour
	DefaultSweep         = time.Minute     // how often Run looks for work
	DefaultVerifyTimeout = 5 * time.Minute // a request not verified by then is sent again
	DefaultRetry         = time.Hour       // after a hub refused or failed
	DefaultTimeout       = 30 * time.Second
	maxChallenge         = 1 << 10
	maxReason            = 256
)

// Ingest is what the subscriber needs from the poller (*fetch.Poller).
type Ingest interface {
	// Deliver stores a pushed document as a poll that fetched it would.
	Deliver(ctx context.Context, src feed.Source, body []byte, contentType string) fetch.Result
	// UpdateState changes a source's saved state under its lock.
	UpdateState(ctx context.Context, sourceID string, change func(*feed.SourceState) bool) error
}

// States lists every saved source state (the store).
type States interface {
	States(ctx context.Context) ([]feed.SourceState, error)
}

// StateReader is a States that reads one source's state (the store: an
// error with feed.ENOTFOUND when none was saved). With it the callback
// answers a hub from the saved subscription, so that any instance sharing
// the store answers for the one that sent the request; without it, from
// the subscriber's own copy.
type StateReader interface {
	State(ctx context.Context, sourceID string) (feed.SourceState, error)
}

// Options tunes a Subscriber; zero values take the defaults above.
type Options struct {
	// BaseURL is the public address hubs reach us at (server.base_url).
	BaseURL string
	// Client sends the requests to hubs: the fetch package's guarded one.
	Client *http.Client
	// CheckHost, when set, refuses a hub on a non-public address before
	// any request (fetch.CheckHost, unless fetch.allow_private_networks).
	CheckHost func(ctx context.Context, host string) error
	// MaxBody bounds a delivery's body (fetch.max_body).
	MaxBody int64
	// UserAgent names us to hubs.
	UserAgent string
	Timeout   time.Duration // per request to a hub
	Lease     time.Duration // the lease asked for
	MinLease  time.Duration // a verification granting less is refused
	MaxLease  time.Duration // a longer lease granted is counted as this long
	Sweep     time.Duration
	// VerifyTimeout is how long a request waits for its verification
	// before it is sent again (a restart forgets renewals in flight).
	VerifyTimeout time.Duration
	Retry         time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	// OnDelivery is called after each stored delivery, from the request's
	// goroutine (the service re-indexes the channels). May be nil.
	OnDelivery func(fetch.Result)
}

// Delivery outcomes, the keys of Counts and the "result" label of
// aggregator_push_deliveries_total.
const (
	Stored       = "stored"        // signed, parsed and stored
	Unsigned     = "unsigned"      // no X-Hub-Signature: 2xx, nothing stored
	BadSignature = "bad_signature" // wrong HMAC, unknown or refused (sha1) algorithm: 2xx, nothing stored
	Unknown      = "unknown"       // no such subscription (an old one, a removed source): 410
	TooLarge     = "too_large"     // body over MaxBody: 413
	Busy         = "busy"          // a delivery of the source is being stored: 503, the hub retries
	Failed       = "failed"        // did not parse or the store failed: 500, the hub retries
)

// Outcomes lists the delivery outcomes, in the order /status shows them.
var Outcomes = []string{Stored, Unsigned, BadSignature, Unknown, TooLarge, Busy, Failed}

// Subscriber subscribes to hubs and takes their deliveries. Create it
// with New; Run sends its requests, ServeHTTP answers its callback.
type Subscriber struct {
	in     Ingest
	states States
	o      Options
	kick   chan struct{}

	mu       sync.Mutex
	sources  map[string]feed.Source // as configured
	subs     map[string]feed.Push   // what is saved, as this process last wrote or loaded it
	pending  map[string]pending     // requests sent and not yet verified
	inflight map[string]bool        // sources with a delivery being stored
	counts   map[string]uint64
	loaded   bool
}

// pending is a request awaiting its verification of intent.
type pending struct {
	mode string // "subscribe" or "unsubscribe"
	at   time.Time
}

// New returns a Subscriber for sources (see Configure). It starts nothing.
func New(in Ingest, states States, sources []feed.Source, o Options) *Subscriber {
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.MinLease <= 0 {
		o.MinLease = DefaultMinLease
	}
	if o.MaxLease <= 0 {
		o.MaxLease = DefaultMaxLease
	}
	if o.Sweep <= 0 {
		o.Sweep = DefaultSweep
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = DefaultVerifyTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = fetch.DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	s := &Subscriber{in: in, states: states, o: o, kick: make(chan struct{}, 1),
		subs: map[string]feed.Push{}, pending: map[string]pending{}, inflight: map[string]bool{},
		counts: map[string]uint64{}}
	s.Configure(sources)
	return s
}

// Configure replaces the configured sources (after a reload) and asks Run
// to act on the change: a removed or disabled source is unsubscribed.
func (s *Subscriber) Configure(sources []feed.Source) {
	m := make(map[string]feed.Source, len(sources))
	for _, src := range sources {
		m[src.ID] = src
	}
	s.mu.Lock()
	s.sources = m
	s.mu.Unlock()
	s.Kick()
}

// Kick asks Run to look for work now (a poll may have found a hub).
func (s *Subscriber) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Counts returns how many deliveries had each outcome since start.
func (s *Subscriber) Counts() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(Outcomes))
	for _, k := range Outcomes {
		out[k] = s.counts[k]
	}
	return out
}

func (s *Subscriber) count(outcome string) {
	s.mu.Lock()
	s.counts[outcome]++
	s.mu.Unlock()
}

// Callback is the callback URL of sourceID's subscription with token.
func (s *Subscriber) Callback(sourceID, token string) string {
	return s.o.BaseURL + CallbackPrefix + url.PathEscape(sourceID) + "/" + token
}

// Run sends subscription, renewal and unsubscription requests until ctx
// ends, one at a time, each within Options.Timeout: at once, then every
// Sweep and whenever kicked. It returns nil once ctx is done.
func (s *Subscriber) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Sweep)
	defer t.Stop()
	for {
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("websub subscriber", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// sweep compares every saved state with the configuration and sends what
// is due: a subscription for a feed that names a hub, a renewal before the
// lease ends, a request again when its verification never came, an
// unsubscription for a source removed or disabled.
func (s *Subscriber) sweep(ctx context.Context) error {
	states, err := s.states.States(ctx)
	if err != nil {
		return fmt.Errorf("states: %w", err)
	}
	s.mu.Lock()
	if !s.loaded { // what an earlier process saved
		for _, st := range states {
			if st.Push != (feed.Push{}) {
				s.subs[st.SourceID] = st.Push
			}
		}
		s.loaded = true
	}
	s.mu.Unlock()
	var errs []error
	for _, st := range states {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.step(ctx, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// step does what is due for one source.
func (s *Subscriber) step(ctx context.Context, st feed.SourceState) error {
	now := s.o.Now()
	s.mu.Lock()
	src, configured := s.sources[st.SourceID]
	p := s.subs[st.SourceID]
	pend, waiting := s.pending[st.SourceID]
	s.mu.Unlock()
	if waiting && now.Sub(pend.at) < s.o.VerifyTimeout {
		return nil
	}
	wanted := configured && !src.Disabled && st.Hub != "" && st.Self != ""
	switch {
	case !wanted:
		switch p.State {
		case feed.PushActive, feed.PushSubscribing:
			return s.unsubscribe(ctx, st.SourceID, p)
		case feed.PushUnsubscribing:
			if p.Expires.IsZero() || !now.Before(p.Expires) { // nothing left to end
				return s.record(ctx, st.SourceID, func(q *feed.Push) { *q = feed.Push{} })
			}
			if now.Sub(p.Requested) >= s.o.VerifyTimeout {
				return s.unsubscribe(ctx, st.SourceID, p)
			}
		case feed.PushDenied:
			return s.record(ctx, st.SourceID, func(q *feed.Push) { *q = feed.Push{} })
		}
		return nil
	case p.Hub != st.Hub || p.Topic != st.Self || p.State == feed.PushNone || p.State == feed.PushUnsubscribing:
		return s.subscribe(ctx, st.SourceID, st.Hub, st.Self, feed.Push{}) // new secret, new callback
	case p.State == feed.PushDenied:
		if now.Sub(p.Requested) >= s.o.Retry {
			return s.subscribe(ctx, st.SourceID, st.Hub, st.Self, p)
		}
	case p.State == feed.PushSubscribing:
		if now.Sub(p.Requested) >= s.o.VerifyTimeout {
			return s.subscribe(ctx, st.SourceID, st.Hub, st.Self, p)
		}
	case p.State == feed.PushActive:
		// Renew when a tenth of the lease is left (a day of ten), or
		// once the lease lapsed; not while a renewal awaits verification.
		renewAt := p.Expires.Add(-p.Expires.Sub(p.Requested) / 10)
		if !now.Before(renewAt) && now.Sub(p.Requested) >= min(s.o.VerifyTimeout, p.Expires.Sub(p.Requested)/10) {
			return s.subscribe(ctx, st.SourceID, st.Hub, st.Self, p)
		}
	}
	return nil
}

// record applies change to sourceID's saved subscription and to the
// subscriber's copy, under the source's lock.
func (s *Subscriber) record(ctx context.Context, sourceID string, change func(*feed.Push)) error {
	return s.in.UpdateState(ctx, sourceID, func(st *feed.SourceState) bool {
		change(&st.Push)
		s.mu.Lock()
		if st.Push == (feed.Push{}) {
			delete(s.subs, sourceID)
		} else {
			s.subs[sourceID] = st.Push
		}
		s.mu.Unlock()
		return true
	})
}

// subscribe asks hub for topic on behalf of sourceID (WebSub §5.1). prev,
// when it is a subscription to the same hub and topic, keeps its secret
// and callback (a renewal, a retry); otherwise both are new. An active
// subscription stays active while its renewal is verified.
func (s *Subscriber) subscribe(ctx context.Context, sourceID, hub, topic string, prev feed.Push) error {
	secret, token := prev.Secret, prev.Token
	if secret == "" || token == "" {
		var err error
		if secret, err = random(32); err != nil {
			return err
		}
		if token, err = random(16); err != nil {
			return err
		}
	}
	now := s.o.Now()
	if err := s.record(ctx, sourceID, func(p *feed.Push) {
		if p.State != feed.PushActive || p.Token != token {
			*p = feed.Push{State: feed.PushSubscribing}
		}
		p.Hub, p.Topic, p.Secret, p.Token, p.Requested, p.Error = hub, topic, secret, token, now, ""
	}); err != nil {
		return err
	}
	s.setPending(sourceID, "subscribe", now)
	form := url.Values{
		"hub.mode":          {"subscribe"},
		"hub.topic":         {topic},
		"hub.callback":      {s.Callback(sourceID, token)},
		"hub.secret":        {secret},
		"hub.lease_seconds": {fmt.Sprint(int64(s.o.Lease / time.Second))},
	}
	if err := s.request(ctx, hub, form); err != nil {
		s.clearPending(sourceID)
		return errors.Join(err, s.record(ctx, sourceID, func(p *feed.Push) {
			if p.State == feed.PushSubscribing {
				p.State = feed.PushDenied
			}
			p.Error = truncate(err.Error(), maxReason)
		}))
	}
	return nil
}

// unsubscribe asks p's hub to end it (WebSub §5.1, hub.mode=unsubscribe).
func (s *Subscriber) unsubscribe(ctx context.Context, sourceID string, p feed.Push) error {
	now := s.o.Now()
	if err := s.record(ctx, sourceID, func(q *feed.Push) { q.State, q.Requested, q.Error = feed.PushUnsubscribing, now, "" }); err != nil {
		return err
	}
	s.setPending(sourceID, "unsubscribe", now)
	form := url.Values{
		"hub.mode":     {"unsubscribe"},
		"hub.topic":    {p.Topic},
		"hub.callback": {s.Callback(sourceID, p.Token)},
	}
	if err := s.request(ctx, p.Hub, form); err != nil {
		s.clearPending(sourceID) // sent again after VerifyTimeout, until the lease ends
		return errors.Join(err, s.record(ctx, sourceID, func(q *feed.Push) { q.Error = truncate(err.Error(), maxReason) }))
	}
	return nil
}

func (s *Subscriber) setPending(sourceID, mode string, at time.Time) {
	s.mu.Lock()
	s.pending[sourceID] = pending{mode: mode, at: at}
	s.mu.Unlock()
}

func (s *Subscriber) clearPending(sourceID string) {
	s.mu.Lock()
	delete(s.pending, sourceID)
	s.mu.Unlock()
}

// request POSTs form to hub; any 2xx is accepted (WebSub §5.1: 202, the
// verification comes on its own).
func (s *Subscriber) request(ctx context.Context, hub string, form url.Values) error {
	u, err := url.Parse(hub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("hub %q: not an http(s) URL", hub)
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	if s.o.CheckHost != nil {
		if err := s.o.CheckHost(ctx, u.Hostname()); err != nil {
			return fmt.Errorf("hub %s: %w", hub, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.o.UserAgent != "" {
		req.Header.Set("User-Agent", s.o.UserAgent)
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxReason))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("hub %s: %s answered %d: %s", form.Get("hub.mode"), hub, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// random is n random bytes, in hex.
func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// truncate bounds text a hub chooses.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
