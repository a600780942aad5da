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
// interval, or the feed's TTL, the response's Cache-Control max-age or its
// Expires when longer, capped at max, plus a positive jitter of up to 5% (at
// most maxSuccessJitter) so sources on one host drift apart.
func (s schedule) afterSuccess(now time.Time, interval, ttl time.Duration, h http.Header) time.Time {
	d := max(orFallback(interval), ttl, maxAge(h), expires(h, now))
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

// afterRefusal returns the next poll after the errors-th consecutive
// failure whose response carried h with status: the backoff of
// afterFailure, or later when a 429 or 503 asked to wait longer with
// Retry-After, never later than max.
func (s schedule) afterRefusal(now time.Time, interval time.Duration, errors, status int, h http.Header) time.Time {
	next := s.afterFailure(now, interval, errors)
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return next
	}
	if wait := retryAfter(h, now); wait > 0 {
		next = maxTime(next, now.Add(min(wait, s.max)))
	}
	return next
}

// adaptive returns the interval of a source whose feed last changed at
// lastChange: a quarter of the time it has been quiet, within
// [interval, max]. A source never seen to change keeps its interval.
func (s schedule) adaptive(interval time.Duration, lastChange, now time.Time) time.Duration {
	interval = orFallback(interval)
	if lastChange.IsZero() || !now.After(lastChange) {
		return interval
	}
	return min(max(interval, now.Sub(lastChange)/4), max(s.max, interval))
}

// maxDelay bounds a delay read from a header before any arithmetic, so a
// hostile value cannot overflow; the schedule caps it further.
const maxDelay = 365 * 24 * time.Hour

// retryAfter returns how long a Retry-After header of h asks to wait at
// now, given in seconds or as an HTTP-date; 0 when absent, unparsable or
// in the past.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxDelay/time.Second))) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return min(t.Sub(now), maxDelay)
}

// expires returns how long the response's Expires header keeps it fresh,
// measured from its Date header when it has one (so a skewed origin clock
// does not matter) or else from now. 0 when absent, unparsable, already
// past, or made meaningless by no-store/no-cache.
func expires(h http.Header, now time.Time) time.Duration {
	v := h.Get("Expires")
	if v == "" {
		return 0
	}
	for _, line := range h.Values("Cache-Control") {
		lower := strings.ToLower(line)
		if strings.Contains(lower, "no-store") || strings.Contains(lower, "no-cache") {
			return 0
		}
	}
	exp, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	from := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		from = d
	}
	if !exp.After(from) {
		return 0
	}
	return min(exp.Sub(from), maxDelay)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
