package feed

import "time"

// PushState is where a source's WebSub subscription stands.
type PushState string

// The states of a Push. The zero value means no subscription.
const (
	PushNone          PushState = ""
	PushSubscribing   PushState = "subscribing"   // requested; the hub has not verified it yet
	PushActive        PushState = "active"        // verified; the lease runs until Expires
	PushUnsubscribing PushState = "unsubscribing" // the source is gone or disabled; unsubscribe requested
	PushDenied        PushState = "denied"        // the hub refused (hub.mode=denied) or the request failed; Error says why
)

// Push is a source's WebSub subscription (W3C WebSub §5): the hub pushes
// Topic, the feed's own rel="self" URL, to our callback, signed with
// Secret, until Expires. It is kept on the source's state so a restart
// keeps it.
type Push struct {
	Hub    string    // the hub's URL, as the feed named it
	Topic  string    // the feed's rel="self" URL
	Secret string    // hub.secret: HMAC key of X-Hub-Signature, hex of 32 random bytes
	Token  string    // the callback path's last segment: tells this subscription from an older one
	State  PushState // PushNone when there is no subscription
	// Requested is when the last (un)subscription request was sent.
	Requested time.Time
	// Expires is when the verified lease ends; zero until verified.
	Expires time.Time
	// Verified is when the hub last verified a subscribe: an active
	// subscription awaits its renewal's verification while Requested is
	// after it (a fact of the store, so any instance can answer the hub).
	Verified time.Time
	// LastDelivery is when a signed delivery was last stored.
	LastDelivery time.Time
	// Error is why the last request failed or was denied; empty otherwise.
	Error string
}

// Active reports whether the subscription is verified and its lease runs
// at now: the hub is expected to push, so polling is only a fallback.
func (p Push) Active(now time.Time) bool {
	return p.State == PushActive && now.Before(p.Expires)
}
