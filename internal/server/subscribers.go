package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/kpolicy/aggregator/internal/feed"
)

// SubscriberStore keeps subscriber statistics across restarts.
type SubscriberStore interface {
	SaveSubscriberDays(ctx context.Context, days []feed.SubscriberDay) error
	SubscriberDays(ctx context.Context, from, to string) ([]feed.SubscriberDay, error)
}

// reportedRe finds the subscriber count that feed readers put in their
// User-Agent: Feedly "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123
// subscribers; )", Inoreader "… 45 subscribers …", NewsBlur "(… 12
// subscribers …)", Feedbin "Feedbin feed-id:… - 7 subscribers", and the
// singular "1 subscriber" or "readers" that others write.
var reportedRe = regexp.MustCompile(`(?i)\b(\d{1,9})\s+(?:subscribers?|readers?)\b`)

// Bounds of what one channel's day keeps, whatever its clients send: the
// distinct clients are a HyperLogLog sketch (at most 16 KB, about 1%
// error past a few thousand, exact below), a User-Agent is read to
// maxUserAgent bytes, at most maxFetchers reporting fetchers are kept (the
// largest counts: a flood of small claims cannot push out a real
// aggregator) and one fetcher reports at most maxReported subscribers.
const (
	maxUserAgent = 512
	maxFetchers  = 64
	maxReported  = 1_000_000
)

// Subscribers counts, per channel and UTC day, the requests for its feeds,
// the 304s, the distinct clients (a hash of address and User-Agent, kept in
// memory only) and the subscribers that feed readers report, the largest
// count of each fetcher that day (a fetcher is its User-Agent with the
// number taken out, so Feedly's count for one feed is one fetcher).
//
// Today's counts live in memory; Flush writes them to the store and forgets
// the days before today. Safe for concurrent use.
type Subscribers struct {
	store SubscriberStore
	now   func() time.Time

	mu   sync.Mutex
	days map[dayKey]*dayCount
	seed maphash.Seed // of the fetchers' hashes
}

type dayKey struct{ channel, day string }

type dayCount struct {
	requests, notModified int
	clients               *hyperloglog.Sketch
	reported              map[uint64]int // hash of the fetcher → largest count reported that day; at most maxFetchers
	stored                feed.SubscriberDay
}

func newDayCount(stored feed.SubscriberDay) *dayCount {
	return &dayCount{clients: hyperloglog.New14(), reported: map[uint64]int{}, stored: stored}
}

// report keeps n for fetcher if it is the fetcher's largest, and, when
// maxFetchers are kept already, only if it is larger than the smallest
// kept, which it replaces.
func (c *dayCount) report(fetcher uint64, n int) {
	if old, ok := c.reported[fetcher]; ok || len(c.reported) < maxFetchers {
		c.reported[fetcher] = max(old, n)
		return
	}
	var least uint64
	leastN := -1
	for f, m := range c.reported {
		if leastN < 0 || m < leastN {
			least, leastN = f, m
		}
	}
	if n > leastN {
		delete(c.reported, least)
		c.reported[fetcher] = n
	}
}

// NewSubscribers returns counters that persist to st (nil: memory only);
// now is the clock (time.Now when nil).
func NewSubscribers(st SubscriberStore, now func() time.Time) *Subscribers {
	if now == nil {
		now = time.Now
	}
	return &Subscribers{store: st, now: now, days: map[dayKey]*dayCount{}, seed: maphash.MakeSeed()}
}

// Record counts one request for a feed of channel, answered with status.
func (s *Subscribers) Record(channel string, status int, r *http.Request) {
	if s == nil || status >= 400 {
		return
	}
	day := s.now().UTC().Format(time.DateOnly)
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	h := sha256.Sum256([]byte(day + "\x00" + host + "\x00" + ua))
	client := binary.BigEndian.Uint64(h[:8])

	s.mu.Lock()
	defer s.mu.Unlock()
	k := dayKey{channel, day}
	c := s.days[k]
	if c == nil {
		c = newDayCount(feed.SubscriberDay{})
		s.days[k] = c
	}
	c.requests++
	if status == http.StatusNotModified {
		c.notModified++
	}
	if m := reportedRe.FindStringSubmatchIndex(ua); m != nil {
		n, _ := strconv.Atoi(ua[m[2]:m[3]])
		c.report(maphash.String(s.seed, ua[:m[2]]+"#"+ua[m[3]:]), min(n, maxReported))
		return // a fetcher speaking for its users is not itself a reader
	}
	c.clients.InsertHash(client)
}

// Today returns today's counts per channel, ordered by channel, including
// what was flushed before a restart.
func (s *Subscribers) Today() []feed.SubscriberDay {
	if s == nil {
		return nil
	}
	day := s.now().UTC().Format(time.DateOnly)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []feed.SubscriberDay
	for k, c := range s.days {
		if k.day == day {
			out = append(out, c.view(k))
		}
	}
	slices.SortFunc(out, func(a, b feed.SubscriberDay) int { return cmp.Compare(a.Channel, b.Channel) })
	return out
}

// view is the day's counts, added to those stored before a restart; for
// the distinct counts the larger of the two stands, as clients seen before
// and after a restart cannot be told apart.
func (c *dayCount) view(k dayKey) feed.SubscriberDay {
	reported := 0
	for _, n := range c.reported {
		reported += n
	}
	return feed.SubscriberDay{
		Channel: k.channel, Day: k.day,
		Requests:    c.stored.Requests + c.requests,
		NotModified: c.stored.NotModified + c.notModified,
		Clients:     max(c.stored.Clients, int(c.clients.Estimate())),
		Reported:    max(c.stored.Reported, reported),
	}
}

// Load reads today's stored counts, so that counting after a restart adds
// to them. Call it once, before Record.
func (s *Subscribers) Load(ctx context.Context) error {
	if s == nil || s.store == nil {
		return nil
	}
	day := s.now().UTC().Format(time.DateOnly)
	days, err := s.store.SubscriberDays(ctx, day, day)
	if err != nil {
		return fmt.Errorf("load subscriber statistics: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range days {
		s.days[dayKey{d.Channel, d.Day}] = newDayCount(d)
	}
	return nil
}

// Flush writes every day in memory to the store and drops the days before
// today, whose counts are then final.
func (s *Subscribers) Flush(ctx context.Context) error {
	if s == nil || s.store == nil {
		return nil
	}
	today := s.now().UTC().Format(time.DateOnly)
	s.mu.Lock()
	var days []feed.SubscriberDay
	for k, c := range s.days {
		days = append(days, c.view(k))
	}
	s.mu.Unlock()
	if len(days) == 0 {
		return nil
	}
	if err := s.store.SaveSubscriberDays(ctx, days); err != nil {
		return fmt.Errorf("flush subscriber statistics: %w", err)
	}
	s.mu.Lock()
	for k := range s.days {
		if k.day < today {
			delete(s.days, k)
		}
	}
	s.mu.Unlock()
	return nil
}

// History returns the stored days from..to with today's live counts in
// place of the stored ones.
func (s *Subscribers) History(ctx context.Context, from, to string) ([]feed.SubscriberDay, error) {
	var out []feed.SubscriberDay
	if s.store != nil {
		days, err := s.store.SubscriberDays(ctx, from, to)
		if err != nil {
			return nil, err
		}
		out = days
	}
	for _, d := range s.Today() {
		if (from != "" && d.Day < from) || (to != "" && d.Day > to) {
			continue
		}
		i := slices.IndexFunc(out, func(o feed.SubscriberDay) bool { return o.Channel == d.Channel && o.Day == d.Day })
		if i >= 0 {
			out[i] = d
		} else {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b feed.SubscriberDay) int {
		if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return cmp.Compare(b.Day, a.Day) // newest day first
	})
	return out, nil
}
