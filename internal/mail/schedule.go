package mail

import (
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Next returns when the digest d is next due after last: the first day
// after last's moment (a weekly digest: the first d.Weekday) whose
// d.Hour:d.Minute, read on the wall clock of loc, is later than last.
// Pass as last the time the previous digest was sent, or the time the
// subscription was confirmed; a digest sent late is then not followed by
// a second one straight away. It returns the zero time for an instant or
// empty d, which has no schedule. A nil loc is UTC.
//
// Days where loc changes its clocks: a time of day that does not exist
// (02:30 when clocks jump from 02:00 to 03:00) is read with the offset in
// force before the jump, which falls that many minutes after the jump
// (03:30); a time that happens twice (01:30 when clocks go back) is its
// first occurrence, and the digest is sent once that day.
func Next(d feed.Digest, loc *time.Location, last time.Time) time.Time {
	if !d.Scheduled() {
		return time.Time{}
	}
	if loc == nil {
		loc = time.UTC
	}
	y, m, day := last.In(loc).Date()
	// Eight days cover a week and the day of last itself.
	for i := 0; i <= 8; i++ {
		// Noon of the day: its date and weekday, whatever the clocks do
		// around midnight.
		noon := time.Date(y, m, day+i, 12, 0, 0, 0, loc)
		if d.Mode == feed.DigestWeekly && noon.Weekday() != d.Weekday {
			continue
		}
		if t := wallClock(noon, d.Hour, d.Minute, loc); t.After(last) {
			return t
		}
	}
	return time.Time{} // not reached: a week always has the weekday
}

// Due reports whether the digest d is due at now, given last as for Next.
func Due(d feed.Digest, loc *time.Location, last, now time.Time) bool {
	next := Next(d, loc, last)
	return !next.IsZero() && !now.Before(next)
}

// wallClock returns the first instant of day's date at which loc's clock
// reads hour:min, or, when it never does (the clocks jump over it), that
// time read with the offset in force before the jump.
func wallClock(day time.Time, hour, min int, loc *time.Location) time.Time {
	y, m, d := day.Date()
	naive := time.Date(y, m, d, hour, min, 0, 0, time.UTC) // the wall time as if it were UTC
	// The offsets in force around that day: before and after any change.
	_, before := naive.Add(-36 * time.Hour).In(loc).Zone()
	_, after := naive.Add(36 * time.Hour).In(loc).Zone()
	_, goPick := time.Date(y, m, d, hour, min, 0, 0, loc).Zone()
	var best time.Time
	for _, off := range []int{before, after, goPick} {
		t := naive.Add(-time.Duration(off) * time.Second)
		l := t.In(loc)
		ly, lm, ld := l.Date()
		if ly == y && lm == m && ld == d && l.Hour() == hour && l.Minute() == min {
			if best.IsZero() || t.Before(best) {
				best = t
			}
		}
	}
	if best.IsZero() {
		best = naive.Add(-time.Duration(before) * time.Second)
	}
	return best
}
