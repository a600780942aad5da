package fetch

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheduling constants.
const (
	DefaultMaxInterval = 24 * time.Hour
	// fallbackInterval stands in for a zero Source.Interval, which config
	// validation should never let through.
	fallbackInterval = time.Hour
	// maxSuccessJitter caps the positive jitter added after a success.
	maxSuccessJitter = 3 * time.Minute
)

// schedule decides when a source is due again. All next-time policy lives
// here, so Retry-After and per-host pacing can be added in one place.
type schedule struct {
	max  time.Duration  // no delay exceeds this
	rand func() float64 // uniform in [0, 1); replaced in tests
}

func newSchedule(max time.Duration) schedule {
	if max <= 0 {
		max = DefaultMaxInterval
	}
	return schedule{max: max, rand: rand.Float64}
}

// afterSuccess returns the next poll after a 2xx or 304 at now: the source's
// interval, or the feed's TTL or the response's Cache-Control max-age when
// longer, capped at max, plus a positive jitter of up to 5% (at most
// maxSuccessJitter) so sources on one host drift apart.
func (s schedule) afterSuccess(now time.Time, interval, ttl time.Duration, h http.Header) time.Time {
	d := max(orFallback(interval), ttl, maxAge(h))
	d = min(d, s.max)
	j := min(d/20, maxSuccessJitter)
	return now.Add(d + time.Duration(s.rand()*float64(j)))
}

// afterFailure returns the next poll after the errors-th consecutive failure
// at now: interval·2^(errors-1), capped at max, with ±10% jitter that never
// pushes it past max.
func (s schedule) afterFailure(now time.Time, interval time.Duration, errors int) time.Time {
	d := min(orFallback(interval), s.max)
	for i := 1; i < errors && d < s.max && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	d = min(d, s.max)
	d += time.Duration((s.rand()*2 - 1) * 0.1 * float64(d))
	if d > s.max {
		d = s.max - (d - s.max)
	}
	return now.Add(d)
}

func orFallback(interval time.Duration) time.Duration {
	if interval <= 0 {
		return fallbackInterval
	}
	return interval
}

// maxAge returns the Cache-Control max-age of h, or 0 when there is none,
// it does not parse, or no-store/no-cache make it meaningless.
func maxAge(h http.Header) time.Duration {
	var age time.Duration
	for _, line := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
				if err != nil || n <= 0 {
					continue
				}
				// Clamp before multiplying so a hostile value cannot overflow.
				age = time.Duration(min(n, int64(365*24*time.Hour/time.Second))) * time.Second
			}
		}
	}
	return age
}
