package parse

import (
	"testing"
	"time"
)

func TestFeedTime(t *testing.T) {
	gofeedUTC := func(s string) *time.Time { // what gofeed makes of an unknown zone name
		v, err := time.Parse(time.RFC1123, s)
		if err != nil {
			t.Fatal(err)
		}
		v = v.UTC()
		return &v
	}
	at := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		name   string
		raw    string
		parsed *time.Time
		want   time.Time
	}{
		{"KST name", "Mon, 01 Aug 2022 09:00:00 KST", gofeedUTC("Mon, 01 Aug 2022 09:00:00 KST"), at(2022, 8, 1, 0, 0)},
		{"JST name, one-digit day", "Tue, 2 Aug 2022 18:30:00 JST", nil, at(2022, 8, 2, 9, 30)},
		{"KST after ISO date", "2022-08-01 09:00:00 KST", nil, at(2022, 8, 1, 0, 0)},
		{"KST without seconds", "Mon, 01 Aug 2022 09:00 kst", nil, at(2022, 8, 1, 0, 0)},
		{"numeric offset trusted from gofeed", "Mon, 01 Aug 2022 09:00:00 +0900", ptr(at(2022, 8, 1, 0, 0)), at(2022, 8, 1, 0, 0)},
		{"gofeed's result converted to UTC", "x", ptr(time.Date(2022, 8, 1, 9, 0, 0, 0, time.FixedZone("", 9*3600))), at(2022, 8, 1, 0, 0)},
		{"no date", "", nil, time.Time{}},
		{"unreadable KST falls back", "sometime KST", nil, time.Time{}},
		{"year 0000 is no date", "0000-01-01T00:00:00Z", ptr(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)), time.Time{}},
		{"year 0001 east of UTC is before year 1", "0001-01-01T05:00:00+09:00", ptr(time.Date(1, 1, 1, 5, 0, 0, 0, time.FixedZone("", 9*3600))), time.Time{}},
		{"year 0000 with a zone name", "Sat, 01 Jan 0000 09:00:00 KST", nil, time.Time{}},
		{"year 0001 kept", "0001-06-01T00:00:00Z", ptr(at(1, 6, 1, 0, 0)), at(1, 6, 1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := feedTime(tt.raw, tt.parsed)
			if !got.Equal(tt.want) || (!got.IsZero() && got.Location() != time.UTC) {
				t.Errorf("feedTime(%q)=%v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }
