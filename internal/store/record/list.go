package record

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// subscriberRecord is how a mailing-list subscriber and its send log are
// stored; Channel and Address are where it lives (a key, columns).
type subscriberRecord struct {
	State       string      `json:"state"`
	Digest      string      `json:"digest,omitempty"`
	Created     time.Time   `json:"created"`
	Confirmed   time.Time   `json:"confirmed,omitzero"`
	ConfirmSent time.Time   `json:"confirm_sent,omitzero"`
	Bounces     int         `json:"bounces,omitempty"`
	SentSeq     uint64      `json:"sent_seq,omitempty"`
	LastPeriod  time.Time   `json:"last_period,omitzero"`
	LastSent    time.Time   `json:"last_sent,omitzero"`
	Sends       int         `json:"sends,omitempty"`
	LastError   string      `json:"last_error,omitempty"`
	Pending     *sendRecord `json:"pending,omitempty"`
	Owner       string      `json:"owner,omitempty"`
	Until       time.Time   `json:"until,omitzero"`
}

type sendRecord struct {
	After  uint64    `json:"after"`
	UpTo   uint64    `json:"up_to"`
	Period time.Time `json:"period,omitzero"`
}

// EncodeSubscriber encodes s but for its Channel and Address.
func EncodeSubscriber(s store.Subscriber) ([]byte, error) {
	r := subscriberRecord{
		State: s.State, Digest: s.Digest, Created: story.Time(s.Created), Confirmed: story.Time(s.Confirmed),
		ConfirmSent: story.Time(s.ConfirmSent), Bounces: s.Bounces, SentSeq: s.SentSeq,
		LastPeriod: story.Time(s.LastPeriod), LastSent: story.Time(s.LastSent), Sends: s.Sends,
		LastError: s.LastError, Owner: s.Owner, Until: story.Time(s.Until),
	}
	if p := s.Pending; p != nil {
		r.Pending = &sendRecord{After: p.After, UpTo: p.UpTo, Period: story.Time(p.Period)}
	}
	return Marshal(r)
}

// DecodeSubscriber decodes what EncodeSubscriber wrote for channel and
// address.
func DecodeSubscriber(channel, address string, b []byte) (store.Subscriber, error) {
	var r subscriberRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Subscriber{}, fmt.Errorf("subscriber %s %s: %w", channel, address, err)
	}
	s := store.Subscriber{
		Channel: channel, Address: address,
		State: r.State, Digest: r.Digest, Created: r.Created, Confirmed: r.Confirmed, ConfirmSent: r.ConfirmSent,
		Bounces: r.Bounces, SentSeq: r.SentSeq, LastPeriod: r.LastPeriod, LastSent: r.LastSent, Sends: r.Sends,
		LastError: r.LastError, Owner: r.Owner, Until: r.Until,
	}
	if p := r.Pending; p != nil {
		s.Pending = &store.Send{After: p.After, UpTo: p.UpTo, Period: p.Period}
	}
	return s, nil
}
