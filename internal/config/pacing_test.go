package config

import (
	"strings"
	"testing"
	"time"
)

// TestFetchPacingKeys decodes and validates fetch.max_interval,
// fetch.host_gap and fetch.adaptive.
func TestFetchPacingKeys(t *testing.T) {
	c, err := Parse(strings.NewReader("fetch:\n  max_interval: 12h\n  host_gap: 250ms\n  adaptive: true\n"), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Fetch.MaxInterval, 12*time.Hour; got != want {
		t.Errorf("max_interval=%v, want %v", got, want)
	}
	if got, want := c.Fetch.HostGap, 250*time.Millisecond; got != want {
		t.Errorf("host_gap=%v, want %v", got, want)
	}
	if !c.Fetch.Adaptive {
		t.Error("adaptive=false, want true")
	}
	c, err = Parse(strings.NewReader("fetch:\n  host_gap: 0s\n"), "feeds.yaml")
	if err != nil || c.Fetch.HostGap != 0 || c.Fetch.MaxInterval != DefaultMaxInterval || c.Fetch.Adaptive {
		t.Errorf("host_gap 0s: err=%v HostGap=%v MaxInterval=%v Adaptive=%v, want nil 0s 24h false",
			err, c.Fetch.HostGap, c.Fetch.MaxInterval, c.Fetch.Adaptive)
	}

	for _, tc := range []struct{ src, want string }{
		{"fetch:\n  interval: 2h\n  max_interval: 1h\n", "feeds.yaml:3: fetch.max_interval: must be at least fetch.interval (2h) and 1s (got 1h)"},
		{"fetch:\n  host_gap: -1s\n", "feeds.yaml:2: fetch.host_gap: must be between 0s and 10m (got -1s)"},
		{"fetch:\n  host_gap: 1h\n", "feeds.yaml:2: fetch.host_gap: must be between 0s and 10m (got 1h)"},
		{"fetch:\n  adaptive: sometimes\n", "feeds.yaml:2: fetch.adaptive:"},
	} {
		_, err := Parse(strings.NewReader(tc.src), "feeds.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) err=%v, want %q", tc.src, err, tc.want)
		}
	}
}
