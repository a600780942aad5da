package fetch

import (
	"net/http"
	"testing"
	"time"
)

func TestAfterFailure(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const iv = 10 * time.Minute
	tests := []struct {
		name   string
		errors int
		rand   float64
		want   time.Duration
	}{
		{"first-no-jitter", 1, 0.5, iv},
		{"first-low-jitter", 1, 0, 9 * time.Minute},
		{"first-high-jitter", 1, 0.75, iv + 30*time.Second},
		{"third", 3, 0.5, 4 * iv},
		{"capped", 20, 0.5, 24 * time.Hour},
		{"capped-jitter-stays-below-cap", 20, 0.75, 24*time.Hour - 72*time.Minute},
		{"capped-low-jitter", 20, 0, 24*time.Hour - 144*time.Minute},
		{"huge-count", 1 << 30, 0.5, 24 * time.Hour},
		{"zero-errors-is-one-interval", 0, 0.5, iv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{max: 24 * time.Hour, rand: func() float64 { return tt.rand }}
			if got := s.afterFailure(now, iv, tt.errors).Sub(now); got != tt.want {
				t.Fatalf("delay=%v, want %v", got, tt.want)
			}
		})
	}
}

func TestAfterSuccessJitter(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		interval time.Duration
		rand     float64
		want     time.Duration
	}{
		{"none", 20 * time.Minute, 0, 20 * time.Minute},
		{"five-percent", 20 * time.Minute, 0.5, 20*time.Minute + 30*time.Second},
		{"capped-at-three-minutes", 6 * time.Hour, 0.5, 6*time.Hour + 90*time.Second},
		{"zero-interval-falls-back", 0, 0, fallbackInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{max: 24 * time.Hour, rand: func() float64 { return tt.rand }}
			if got := s.afterSuccess(now, tt.interval, 0, nil).Sub(now); got != tt.want {
				t.Fatalf("delay=%v, want %v", got, tt.want)
			}
		})
	}
}

func TestMaxAge(t *testing.T) {
	tests := []struct {
		values []string
		want   time.Duration
	}{
		{nil, 0},
		{[]string{"max-age=300"}, 5 * time.Minute},
		{[]string{"public, MAX-AGE=\"600\""}, 10 * time.Minute},
		{[]string{"private", "max-age=60"}, time.Minute},
		{[]string{"max-age=-5"}, 0},
		{[]string{"max-age=abc"}, 0},
		{[]string{"max-age=99999999999999999999"}, 0},
		{[]string{"max-age=9999999999999"}, 365 * 24 * time.Hour},
		{[]string{"no-store, max-age=300"}, 0},
		{[]string{"s-maxage=300"}, 0},
	}
	for _, tt := range tests {
		h := http.Header{"Cache-Control": tt.values}
		if got := maxAge(h); got != tt.want {
			t.Errorf("maxAge(%q)=%v, want %v", tt.values, got, tt.want)
		}
	}
}
