package push

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// bodyTimeout is how long a notification's body may take to arrive, from
// the handler's start.
const bodyTimeout = 30 * time.Second

// ServeHTTP answers the callback, CallbackPrefix + SOURCE + "/" + TOKEN:
// GET is the hub's verification of intent (WebSub §5.3), POST a content
// distribution (§7, §8). The token, random per subscription, tells the
// current subscription from an older one of the same source, whose
// deliveries are answered 410 Gone so its hub drops it; it is not a
// secret that lets anything in (the signature is).
func (s *Subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, CallbackPrefix)
	sourceID, token, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || sourceID == "" || token == "" || strings.Contains(token, "/") {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.verify(w, r, sourceID, token)
	case http.MethodPost:
		s.deliver(w, r, sourceID, token)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify echoes hub.challenge only for a request this subscriber sent and
// has not seen verified: the subscription awaiting it (or its renewal) for
// hub.mode=subscribe, the one being ended for unsubscribe, with the same
// topic; a subscribe must grant a lease of at least MinLease (a longer one
// than MaxLease counts as MaxLease). hub.mode=denied records the hub's
// refusal. Anything else is 404, and changes nothing.
func (s *Subscriber) verify(w http.ResponseWriter, r *http.Request, sourceID, token string) {
	q := r.URL.Query()
	mode, topic, challenge := q.Get("hub.mode"), q.Get("hub.topic"), q.Get("hub.challenge")
	p, known, err := s.lookup(r.Context(), sourceID)
	if err != nil {
		s.o.Logger.Warn("websub verification: subscription not read", "source", sourceID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError) // the hub verifies again
		return
	}
	s.mu.Lock()
	pend := s.pending[sourceID]
	s.mu.Unlock()
	if !known || p.Token != token || topic != p.Topic {
		http.NotFound(w, r)
		return
	}
	now := s.o.Now()
	var change func(*feed.Push)
	switch mode {
	case "subscribe":
		lease, err := strconv.ParseInt(q.Get("hub.lease_seconds"), 10, 64)
		// A renewal awaits verification while the saved request is later
		// than the last verification (whichever instance sent it).
		renewing := pend.mode == "subscribe" || p.Requested.After(p.Verified)
		if err != nil || lease < int64(s.o.MinLease/time.Second) || challenge == "" || len(challenge) > maxChallenge ||
			!(p.State == feed.PushSubscribing || (p.State == feed.PushActive && renewing)) {
			http.NotFound(w, r)
			return
		}
		d := min(time.Duration(min(lease, int64(s.o.MaxLease/time.Second)))*time.Second, s.o.MaxLease)
		change = func(q *feed.Push) {
			if q.Token == token && q.Topic == topic {
				q.State, q.Expires, q.Verified, q.Error = feed.PushActive, now.Add(d), now, ""
			}
		}
	case "unsubscribe":
		if challenge == "" || len(challenge) > maxChallenge || !(p.State == feed.PushUnsubscribing || pend.mode == "unsubscribe") {
			http.NotFound(w, r)
			return
		}
		change = func(q *feed.Push) {
			if q.Token == token {
				*q = feed.Push{}
			}
		}
	case "denied": // §5.2: the hub refused, or ended, the subscription
		reason := truncate(q.Get("hub.reason"), maxReason)
		change = func(q *feed.Push) {
			if q.Token == token {
				q.State, q.Error = feed.PushDenied, "the hub denied the subscription: "+reason
			}
		}
		challenge = ""
	default:
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	if err := s.record(ctx, sourceID, change); err != nil {
		s.o.Logger.Warn("websub verification not recorded", "source", sourceID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError) // the hub verifies again
		return
	}
	s.clearPending(sourceID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, challenge)
}

// deliver takes a content distribution for an active subscription: the
// body within MaxBody, its X-Hub-Signature checked in constant time with
// the subscription's secret, then stored through Ingest.Deliver, one at a
// time per source. An unsigned or badly signed body is answered 2xx, as
// WebSub §8 asks (a forger learns nothing), and stored nowhere.
func (s *Subscriber) deliver(w http.ResponseWriter, r *http.Request, sourceID, token string) {
	p, known, err := s.lookup(r.Context(), sourceID)
	if err != nil {
		s.count(Failed)
		s.o.Logger.Warn("websub delivery: subscription not read", "source", sourceID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	src, configured := s.sources[sourceID]
	s.mu.Unlock()
	if !known || p.Token != token || !p.Active(s.o.Now()) || !configured || src.Disabled {
		s.count(Unknown)
		http.Error(w, "no such subscription", http.StatusGone)
		return
	}
	if r.ContentLength > s.o.MaxBody {
		s.count(TooLarge)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// A serve's read deadline is its 10 s for a whole request; a feed of
	// up to MaxBody gets longer (an error here: a writer without deadlines).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.count(TooLarge)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		s.count(Failed)
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	sig := r.Header.Get("X-Hub-Signature")
	if sig == "" {
		s.count(Unsigned)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !Valid(sig, []byte(p.Secret), body) {
		s.count(BadSignature)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !s.enter(sourceID) {
		s.count(Busy)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	defer s.leave(sourceID)
	res := s.in.Deliver(r.Context(), src, body, r.Header.Get("Content-Type"))
	if res.Err != nil {
		s.count(Failed)
		s.o.Logger.Warn("websub delivery not stored", "source", sourceID, "err", res.Err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.count(Stored)
	s.o.Logger.Info("push", "source", sourceID, "new", res.Counts.New, "updated", res.Counts.Updated,
		"unchanged", res.Counts.Unchanged, "duration", res.Duration.Round(time.Millisecond))
	if s.o.OnDelivery != nil {
		s.o.OnDelivery(res)
	}
	w.WriteHeader(http.StatusNoContent)
}

// enter takes sourceID's one delivery slot, or reports it taken.
func (s *Subscriber) enter(sourceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[sourceID] {
		return false
	}
	s.inflight[sourceID] = true
	return true
}

func (s *Subscriber) leave(sourceID string) {
	s.mu.Lock()
	delete(s.inflight, sourceID)
	s.mu.Unlock()
}

// Valid reports whether header, an X-Hub-Signature value "method=hex",
// is body's HMAC under secret by sha256, sha384 or sha512, compared in
// constant time. sha1, which WebSub still allows, is refused: HMAC-SHA1 is
// not known to be forgeable, but SHA-1 is deprecated, every hub we would
// subscribe to signs with sha256 when asked nothing else, and accepting
// the weakest method offered is a downgrade a forger would choose.
func Valid(header string, secret, body []byte) bool {
	method, sig, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok {
		return false
	}
	var h func() hash.Hash
	switch strings.ToLower(method) {
	case "sha256":
		h = sha256.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		return false
	}
	want, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(h, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), want)
}

// lookup returns sourceID's subscription as saved (StateReader), or as
// this subscriber last recorded it; known is false when it has none.
func (s *Subscriber) lookup(ctx context.Context, sourceID string) (p feed.Push, known bool, err error) {
	if sr, ok := s.states.(StateReader); ok {
		st, err := sr.State(ctx, sourceID)
		switch {
		case feed.ErrorCode(err) == feed.ENOTFOUND:
			return feed.Push{}, false, nil
		case err != nil:
			return feed.Push{}, false, err
		}
		return st.Push, st.Push != (feed.Push{}), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, known = s.subs[sourceID]
	return p, known, nil
}
