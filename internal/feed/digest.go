package feed

import "time"

// Digest modes: how often a channel's mailing list is sent.
const (
	DigestInstant = "instant" // each poll's new items, as soon as they are stored
	DigestDaily   = "daily"   // once a day, at Hour:Minute
	DigestWeekly  = "weekly"  // once a week, on Weekday at Hour:Minute
)

// DigestModes lists the digest modes, in the order documentation gives them.
func DigestModes() []string { return []string{DigestInstant, DigestDaily, DigestWeekly} }

// Digest is how a channel's mail is sent: the setting of channels[].mail,
// and the choice a subscriber makes on the manage page. The zero value (an
// empty Mode) is a channel without a mailing list.
type Digest struct {
	Mode string // one of DigestModes, or "" for none
	// Hour and Minute are the local time of day (in mail.timezone) of a
	// daily or weekly digest; unused for instant.
	Hour, Minute int
	// Weekday is the day of a weekly digest; unused otherwise.
	Weekday time.Weekday
}

// Scheduled reports whether d is sent at a time of day (daily or weekly)
// rather than as items arrive.
func (d Digest) Scheduled() bool { return d.Mode == DigestDaily || d.Mode == DigestWeekly }
