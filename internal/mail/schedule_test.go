package mail

import (
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func daily(h, m int) feed.Digest { return feed.Digest{Mode: feed.DigestDaily, Hour: h, Minute: m} }
func weekly(d time.Weekday, h, m int) feed.Digest {
	return feed.Digest{Mode: feed.DigestWeekly, Weekday: d, Hour: h, Minute: m}
}

func TestNextDaily(t *testing.T) {
	seoul := zone(t, "Asia/Seoul")
	for _, tc := range []struct {
		name string
		last time.Time
		want time.Time
	}{
		{"before today's", time.Date(2026, 3, 5, 6, 59, 0, 0, seoul), time.Date(2026, 3, 5, 7, 0, 0, 0, seoul)},
		{"exactly at it", time.Date(2026, 3, 5, 7, 0, 0, 0, seoul), time.Date(2026, 3, 6, 7, 0, 0, 0, seoul)},
		{"sent late", time.Date(2026, 3, 5, 9, 30, 0, 0, seoul), time.Date(2026, 3, 6, 7, 0, 0, 0, seoul)},
		{"last given in UTC", time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 7, 0, 0, 0, seoul)},
		{"end of year", time.Date(2026, 12, 31, 8, 0, 0, 0, seoul), time.Date(2027, 1, 1, 7, 0, 0, 0, seoul)},
		{"29 February", time.Date(2028, 2, 28, 8, 0, 0, 0, seoul), time.Date(2028, 2, 29, 7, 0, 0, 0, seoul)},
	} {
		got := Next(daily(7, 0), seoul, tc.last)
		if !got.Equal(tc.want) {
			t.Errorf("%s: Next(daily 07:00 Seoul, %v) = %v, want %v", tc.name, tc.last, got.In(seoul), tc.want)
		}
	}
}

// TestNextSeoulIsAlways24h: Asia/Seoul has no daylight saving time, so a
// year of daily digests are 24 hours apart, at 07:00 KST = 22:00 UTC.
func TestNextSeoulIsAlways24h(t *testing.T) {
	seoul := zone(t, "Asia/Seoul")
	last := time.Date(2026, 1, 1, 7, 0, 0, 0, seoul)
	for range 366 {
		next := Next(daily(7, 0), seoul, last)
		if next.Sub(last) != 24*time.Hour || next.UTC().Hour() != 22 {
			t.Fatalf("after %v: %v (%v later)", last, next, next.Sub(last))
		}
		last = next
	}
}

// TestNextNewYorkDST walks daily digests across both of New York's clock
// changes in 2026 (8 March, 02:00 → 03:00; 1 November, 02:00 → 01:00).
func TestNextNewYorkDST(t *testing.T) {
	ny := zone(t, "America/New_York")
	utc := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name  string
		at    feed.Digest
		start time.Time
		want  []time.Time // the next digests after start, in UTC
	}{
		{"07:00 across the spring change", daily(7, 0), utc(3, 7, 12, 0),
			[]time.Time{utc(3, 8, 11, 0), utc(3, 9, 11, 0)}}, // 12:00Z EST before, 11:00Z EDT after
		{"07:00 across the autumn change", daily(7, 0), utc(10, 31, 11, 0),
			[]time.Time{utc(11, 1, 12, 0), utc(11, 2, 12, 0)}},
		// 02:30 does not exist on 8 March: it is sent at 03:30 EDT, and
		// the next day at 02:30 EDT again.
		{"02:30 on the day it does not exist", daily(2, 30), utc(3, 7, 7, 30),
			[]time.Time{utc(3, 8, 7, 30), utc(3, 9, 6, 30)}},
		// 01:30 happens twice on 1 November: sent at the first (EDT), not
		// again at the second (EST).
		{"01:30 on the day it happens twice", daily(1, 30), utc(10, 31, 5, 30),
			[]time.Time{utc(11, 1, 5, 30), utc(11, 2, 6, 30)}},
		{"weekly on Sunday 07:00 across the spring change", weekly(time.Sunday, 7, 0), utc(3, 1, 12, 0),
			[]time.Time{utc(3, 8, 11, 0), utc(3, 15, 11, 0)}},
	} {
		last := tc.start
		for i, want := range tc.want {
			got := Next(tc.at, ny, last)
			if !got.Equal(want) {
				t.Errorf("%s: digest %d after %v = %v (%v), want %v (%v)", tc.name, i+1,
					last.In(ny), got.UTC(), got.In(ny), want, want.In(ny))
			}
			last = got
		}
	}
}

func TestNextWeekly(t *testing.T) {
	seoul := zone(t, "Asia/Seoul")
	mon := weekly(time.Monday, 7, 0)
	// Thursday 5 March 2026 → Monday 9 March.
	last := time.Date(2026, 3, 5, 12, 0, 0, 0, seoul)
	want := time.Date(2026, 3, 9, 7, 0, 0, 0, seoul)
	for range 60 {
		got := Next(mon, seoul, last)
		if !got.Equal(want) || got.In(seoul).Weekday() != time.Monday {
			t.Fatalf("Next(weekly Monday 07:00, %v) = %v, want %v", last, got, want)
		}
		last, want = got, want.AddDate(0, 0, 7)
	}
	// Monday after 07:00: a week later, not the same day.
	if got, want := Next(mon, seoul, time.Date(2026, 3, 9, 7, 1, 0, 0, seoul)), time.Date(2026, 3, 16, 7, 0, 0, 0, seoul); !got.Equal(want) {
		t.Errorf("Monday 07:01: %v, want %v", got, want)
	}
}

func TestNextUnscheduled(t *testing.T) {
	for _, d := range []feed.Digest{{}, {Mode: feed.DigestInstant}} {
		if got := Next(d, nil, t0); !got.IsZero() {
			t.Errorf("Next(%+v) = %v, want the zero time", d, got)
		}
		if Due(d, nil, t0, t0.Add(1000*time.Hour)) {
			t.Errorf("Due(%+v) = true for a digest without a schedule", d)
		}
	}
}

// TestDueWithAFakeClock drives Due minute by minute over ten days in New
// York, as a sender loop would, and counts one digest a day, each at 07:00
// local time, across the spring clock change.
func TestDueWithAFakeClock(t *testing.T) {
	ny := zone(t, "America/New_York")
	d := daily(7, 0)
	last := time.Date(2026, 3, 3, 12, 0, 0, 0, ny) // confirmed at noon
	var sent []time.Time
	for now := last; now.Before(time.Date(2026, 3, 13, 12, 0, 0, 0, ny)); now = now.Add(time.Minute) {
		if Due(d, ny, last, now) {
			sent = append(sent, now)
			last = now
		}
	}
	if len(sent) != 10 {
		t.Fatalf("sent %d digests in ten days: %v", len(sent), sent)
	}
	for _, s := range sent {
		if l := s.In(ny); l.Hour() != 7 || l.Minute() != 0 {
			t.Errorf("a digest sent at %v, want 07:00 local", l)
		}
	}
	// A nil location is UTC.
	if got, want := Next(d, nil, t0), time.Date(2026, 3, 6, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next(nil location) = %v, want %v", got, want)
	}
}
