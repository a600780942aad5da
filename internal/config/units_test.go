package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"10B", 10, true},
		{"10KB", 10_000, true},
		{"10kb", 10_000, true},
		{"10MB", 10_000_000, true},
		{"3GB", 3_000_000_000, true},
		{"10KiB", 10 << 10, true},
		{"10MiB", 10 << 20, true},
		{"3GiB", 3 << 30, true},
		{" 10 MiB ", 10 << 20, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"10000000000GB", 0, false},
		{"", 0, false},
		{"MB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5MB", 0, false},
		{"10 megs", 0, false},
		{"10M", 0, false},
		{"10TB", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q)=%d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0"}, {1000, "1000"}, {1 << 10, "1KiB"}, {10 << 20, "10MiB"}, {3 << 30, "3GiB"}, {1536, "1536"}} {
		if got := formatSize(tc.in); got != tc.want {
			t.Errorf("formatSize(%d)=%q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{90 * time.Second, "1m30s"},
		{time.Minute, "1m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{-5 * time.Second, "-5s"},
	} {
		if got := formatDuration(tc.in); got != tc.want {
			t.Errorf("formatDuration(%v)=%q, want %q", tc.in, got, tc.want)
		}
	}
}
