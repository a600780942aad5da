package feed

import "time"

// Subscription is a WebSub subscriber's verified interest in one topic (a
// channel document's URL): the hub POSTs the document to Callback whenever
// it changes, until Expires.
type Subscription struct {
	Topic    string
	Callback string
	Secret   string // HMAC key for X-Hub-Signature; empty: deliveries are unsigned
	Lease    time.Duration
	Expires  time.Time
	Created  time.Time
}

// Active reports whether the subscription's lease still runs at now.
func (s Subscription) Active(now time.Time) bool { return now.Before(s.Expires) }
