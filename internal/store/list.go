package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Subscriber states.
const (
	Pending   = "pending"   // signed up, not yet confirmed; gets nothing but the confirmation
	Confirmed = "confirmed" // gets the list's mail
	Bounced   = "bounced"   // refused MaxBounces mails in a row: gets nothing
)

// Bounds of a subscriber record.
const (
	MaxListChannel = 255 // bytes of a channel id
	MaxListAddress = 320 // bytes of an address (RFC 5321: 64 + 1 + 255)
	MaxListError   = 500 // bytes of LastError kept
	// MaxBounces is how many mails in a row the server may refuse for an
	// address before it is Bounced.
	MaxBounces = 3
	// ListBatch bounds the deletions of one PrunePending transaction.
	ListBatch = 1000
)

// Subscriber is one address on one channel's list, with its send log.
type Subscriber struct {
	Channel, Address string
	State            string // Pending, Confirmed or Bounced
	// Digest is the reader's choice of feed.DigestModes; "" is the
	// channel's own.
	Digest string
	// Created is when it signed up, Confirmed when it confirmed,
	// ConfirmSent when the last confirmation mail was sent.
	Created, Confirmed, ConfirmSent time.Time
	// Bounces is how many mails in a row the server refused for it.
	Bounces int

	// The send log. SentSeq: every member of the channel with a Seq up to
	// it was mailed (or was older than the subscription). LastPeriod: the
	// due time of the last digest (or when it confirmed). LastSent: when
	// a mail last went out. Sends: how many did.
	SentSeq    uint64
	LastPeriod time.Time
	LastSent   time.Time
	Sends      int
	// LastError is the last failure to mail it, cut to MaxListError.
	LastError string
	// Pending is the send claimed and not finished: a crash leaves it
	// here, and the next claim sends exactly it again.
	Pending *Send
	// Owner holds the claim until Until; "" when none does.
	Owner string
	Until time.Time
}

// Send is one mail to a subscriber: the members with a Seq above After and
// up to UpTo, for the digest due at Period (zero for instant mail).
type Send struct {
	After, UpTo uint64
	Period      time.Time
}

// SendClaim asks ClaimSend for a subscriber's next send.
type SendClaim struct {
	Channel, Address string
	Owner            string    // who sends (an instance and loop id)
	Now, Until       time.Time // the claim holds until Until
	UpTo             uint64    // the channel's last member Seq to mail
	Period           time.Time // the digest's due time; zero for instant
}

// SendResult is how a claimed send ended, for FinishSend.
type SendResult struct {
	Now time.Time
	// Sent: the server took the mail, or (Mailed false) there was nothing
	// to mail; either way SentSeq becomes Pending.UpTo, LastPeriod its
	// Period when set, and Bounces 0.
	Sent   bool
	Mailed bool
	// Rejected: the server refused the mail for this address (5xx);
	// Bounces grows, and at MaxBounces the subscriber is Bounced and
	// Pending dropped. Otherwise (neither Sent nor Rejected) the failure
	// is temporary: Pending is kept for the retry.
	Rejected bool
	Err      string // the failure, for LastError
	// Wait keeps the subscriber from being claimed again before Now+Wait
	// (a refused address is not tried again at once).
	Wait time.Duration
}

// ListCounts are a list's subscribers by state.
type ListCounts struct {
	Confirmed, Pending, Bounced int
}

// CheckSubscriber returns a feed.EINVALID error for a channel or address
// the store does not keep.
func CheckSubscriber(channel, address string) error {
	bad := func(what, s string, n int) error {
		if s == "" || len(s) > n || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return feed.Errorf(feed.EINVALID, "%s must be 1 to %d bytes of text without control characters", what, n)
		}
		return nil
	}
	if err := bad("channel", channel, MaxListChannel); err != nil {
		return err
	}
	return bad("address", address, MaxListAddress)
}

// Claim is ClaimSend's rule over the record s: the record after and
// whether the claim was taken. Backends apply it to the record they read
// inside the transaction (or row lock) that writes the result.
func (s Subscriber) Claim(c SendClaim) (Subscriber, bool) {
	if s.State != Confirmed || (s.Owner != c.Owner && c.Now.Before(s.Until)) {
		return s, false
	}
	if s.Pending == nil {
		if c.Period.IsZero() && c.UpTo <= s.SentSeq {
			return s, false
		}
		if !c.Period.IsZero() && !c.Period.After(s.LastPeriod) {
			return s, false
		}
		s.Pending = &Send{After: s.SentSeq, UpTo: max(c.UpTo, s.SentSeq), Period: c.Period}
	}
	s.Owner, s.Until = c.Owner, c.Until
	return s, true
}

// Finish is FinishSend's rule over the record s.
func (s Subscriber) Finish(owner string, r SendResult) (Subscriber, error) {
	if s.Owner != owner || s.Owner == "" || s.Pending == nil {
		return s, feed.Errorf(feed.ECONFLICT, "the send to %s on %s is not claimed by %s", s.Address, s.Channel, owner)
	}
	s.Owner, s.Until = "", time.Time{}
	if r.Wait > 0 {
		s.Until = r.Now.Add(r.Wait)
	}
	switch {
	case r.Sent:
		s.SentSeq = max(s.SentSeq, s.Pending.UpTo)
		if !s.Pending.Period.IsZero() {
			s.LastPeriod = s.Pending.Period
		}
		if r.Mailed {
			s.LastSent = r.Now
			s.Sends++
		}
		s.Pending, s.Bounces, s.LastError = nil, 0, ""
	case r.Rejected:
		s.Bounces++
		s.LastError = cut(r.Err, MaxListError)
		if s.Bounces >= MaxBounces {
			s.State, s.Pending = Bounced, nil
		}
	default:
		s.LastError = cut(r.Err, MaxListError)
	}
	return s, nil
}

// Restart is AddSubscriber's rule for an address already listed: a
// bounced subscriber starts again as pending at now; any other is kept.
func (s Subscriber) Restart(now time.Time) (Subscriber, bool) {
	if s.State != Bounced {
		return s, false
	}
	return Subscriber{Channel: s.Channel, Address: s.Address, State: Pending, Digest: s.Digest, Created: now}, true
}

// ConfirmAt is ConfirmSubscriber's rule.
func (s Subscriber) ConfirmAt(now time.Time, from uint64) (Subscriber, error) {
	switch s.State {
	case Confirmed:
		return s, nil
	case Pending:
		s.State, s.Confirmed, s.SentSeq, s.LastPeriod = Confirmed, now, from, now
		return s, nil
	}
	return s, feed.Errorf(feed.ENOTFOUND, "no pending subscription of %s to %s", s.Address, s.Channel)
}

// ConfirmDue is MarkConfirmSent's rule.
func (s Subscriber) ConfirmDue(at time.Time, every time.Duration) (Subscriber, bool) {
	if s.State != Pending || (!s.ConfirmSent.IsZero() && at.Sub(s.ConfirmSent) < every) {
		return s, false
	}
	s.ConfirmSent = at
	return s, true
}

// CheckImport returns a feed.EINVALID error for a record
// ImportSubscriber does not keep.
func CheckImport(s Subscriber) error {
	if err := CheckSubscriber(s.Channel, s.Address); err != nil {
		return err
	}
	if s.State != Pending && s.State != Confirmed && s.State != Bounced {
		return feed.Errorf(feed.EINVALID, "state must be pending, confirmed or bounced (got %q)", s.State)
	}
	if len(s.LastError) > MaxListError || len(s.Owner) > MaxListChannel {
		return feed.Errorf(feed.EINVALID, "last error or owner too long")
	}
	return CheckDigest(s.Digest)
}

// CheckDigest returns a feed.EINVALID error for a digest choice that is
// not "" or one of feed.DigestModes.
func CheckDigest(d string) error {
	if d == "" {
		return nil
	}
	for _, m := range feed.DigestModes() {
		if d == m {
			return nil
		}
	}
	return feed.Errorf(feed.EINVALID, "digest must be one of %s (got %q)", strings.Join(feed.DigestModes(), ", "), d)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// MinSecret is the shortest mail-link secret a store keeps.
const MinSecret = 32

// CheckSecret is the rule of Lists.MailSecret's candidate, for every
// backend: at least MinSecret bytes, else feed.EINVALID.
func CheckSecret(candidate []byte) error {
	if len(candidate) < MinSecret {
		return fmt.Errorf("mail secret: %w", feed.Errorf(feed.EINVALID, "the secret must be at least %d bytes", MinSecret))
	}
	return nil
}
