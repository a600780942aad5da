package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// SubscriberStore keeps subscriber statistics across restarts and
// instances, as parts (store.SubscriberStats).
type SubscriberStore interface {
	SaveSubscriberParts(ctx context.Context, parts []store.SubscriberPart) error
	SubscriberParts(ctx context.Context, from, to string) ([]store.SubscriberPart, error)
	SettleSubscriberDays(ctx context.Context, settled []store.SubscriberPart) error
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
	maxFetchers  = store.MaxFetchers
	maxReported  = 1_000_000
	maxAgents    = 1024 // User-Agents whose reading (agentInfo) is kept; past it the table starts over
)

// settleAfter and settleWindow say which days Flush settles: those from
// settleWindow to settleAfter days before today, which no instance writes
// any more (an instance writes only today and yesterday), so that a
// channel's day keeps one small row rather than a sketch per process. A
// day no instance flushed during that week keeps its parts, merged alike.
const (
	settleAfter  = 2
	settleWindow = 9
)

// Subscribers counts, per channel and UTC day, the requests for its feeds,
// the 304s, the distinct clients (a hash of address and User-Agent, kept
// only in a sketch) and the subscribers that feed readers report, the
// largest count of each fetcher that day (a fetcher is its User-Agent
// with the number taken out, so Feedly's count for one feed is one
// fetcher).
//
// This process's counts are one instance's part of each day
// (store.SubscriberPart): Flush writes them, replacing its part of the
// last flush, and the day shown is every instance's parts merged
// (store.MergeSubscriberParts), so instances sharing a store add up and a
// client that reached two of them counts once. A restarted process is a
// new instance: it starts from zero, and its previous run's part stays.
// Safe for concurrent use.
type Subscribers struct {
	store    SubscriberStore
	now      func() time.Time
	instance string
	today    atomic.Pointer[dayText] // the day last formatted (day)

	mu     sync.Mutex
	days   map[dayKey]*dayCount
	others map[dayKey][]store.SubscriberPart // the other instances' parts of today and yesterday, as of the last Load or Flush
	agents map[string]agentInfo              // User-Agent (clipped) → what reportedRe read in it; at most maxAgents
}

// agentInfo is what a User-Agent says of subscribers: n reported by
// fetcher, or n -1 when it reports none. Readers poll with the same few
// User-Agents all day, so each is read once (reportedRe was a third of a
// 304's handling with NetNewsWire's).
type agentInfo struct {
	n       int
	fetcher uint64
}

// agent reads ua (clipped) once; s.mu held.
func (s *Subscribers) agent(ua string) agentInfo {
	if a, ok := s.agents[ua]; ok {
		return a
	}
	a := agentInfo{n: -1}
	if m := reportedRe.FindStringSubmatchIndex(ua); m != nil {
		a.n, _ = strconv.Atoi(ua[m[2]:m[3]])
		a.fetcher = store.FetcherHash(ua[:m[2]] + "#" + ua[m[3]:])
	}
	if len(s.agents) >= maxAgents {
		clear(s.agents)
	}
	s.agents[strings.Clone(ua)] = a
	return a
}

type dayKey struct{ channel, day string }

type dayCount struct {
	requests, notModified int
	clients               *hyperloglog.Sketch
	reported              map[uint64]int // store.FetcherHash of the fetcher → largest count reported that day; at most maxFetchers
}

func newDayCount() *dayCount {
	return &dayCount{clients: hyperloglog.New14(), reported: map[uint64]int{}}
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

// NewSubscribers returns counters that persist to st (nil: memory only)
// as the part of instance, an id of this process (at most
// store.MaxInstance bytes) that no other process sharing st uses: "" makes
// a random one. now is the clock (time.Now when nil).
func NewSubscribers(st SubscriberStore, now func() time.Time, instance string) *Subscribers {
	if now == nil {
		now = time.Now
	}
	if instance == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		instance = hex.EncodeToString(b[:])
	}
	return &Subscribers{store: st, now: now, instance: instance, days: map[dayKey]*dayCount{}, others: map[dayKey][]store.SubscriberPart{}, agents: map[string]agentInfo{}}
}

// Record counts one request for a feed of channel, answered with status.
func (s *Subscribers) Record(channel string, status int, r *http.Request) {
	if s == nil || status >= 400 {
		return
	}
	day := s.day(s.now())
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	var buf [16 + 64 + maxUserAgent]byte // on the stack: no allocation a request
	key := append(append(append(append(append(buf[:0], day...), 0), host...), 0), ua...)
	client := xxhash.Sum64(key)

	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agent(ua)
	k := dayKey{channel, day}
	c := s.days[k]
	if c == nil {
		c = newDayCount()
		s.days[k] = c
	}
	c.requests++
	if status == http.StatusNotModified {
		c.notModified++
	}
	if a.n >= 0 {
		c.report(a.fetcher, min(a.n, maxReported))
		return // a fetcher speaking for its users is not itself a reader
	}
	c.clients.InsertHash(client)
}

// day is t's UTC day as store.SubscriberPart keeps it (2006-01-02),
// formatted once a day: formatting it and hashing the client with SHA-256
// were two thirds of Record, a quarter of a 304's handling
// (BenchmarkFeedHandler/atom-304).
func (s *Subscribers) day(t time.Time) string {
	u := t.Unix()
	d := u / 86400
	if u < 0 && u%86400 != 0 {
		d-- // floor, for a clock before 1970
	}
	if e := s.today.Load(); e != nil && e.unixDay == d {
		return e.text
	}
	e := &dayText{unixDay: d, text: t.UTC().Format(time.DateOnly)}
	s.today.Store(e)
	return e.text
}

type dayText struct {
	unixDay int64
	text    string
}

// part is this instance's part of k: its counts, marshalled sketch and
// fetchers, copied.
func (s *Subscribers) part(k dayKey, c *dayCount) (store.SubscriberPart, error) {
	sk, err := c.clients.MarshalBinary()
	if err != nil {
		return store.SubscriberPart{}, err
	}
	return store.SubscriberPart{Channel: k.channel, Day: k.day, Instance: s.instance,
		Requests: c.requests, NotModified: c.notModified, Sketch: sk, Fetchers: maps.Clone(c.reported)}, nil
}

// Today returns today's counts per channel, ordered by channel: this
// instance's, merged with the other instances' parts (those of this
// process's earlier runs included) as of the last Load or Flush.
func (s *Subscribers) Today() []feed.SubscriberDay {
	if s == nil {
		return nil
	}
	day := s.now().UTC().Format(time.DateOnly)
	s.mu.Lock()
	var parts []store.SubscriberPart
	for k, c := range s.days {
		if k.day == day {
			if p, err := s.part(k, c); err == nil {
				parts = append(parts, p)
			}
		}
	}
	for k, ps := range s.others {
		if k.day == day {
			parts = append(parts, ps...)
		}
	}
	s.mu.Unlock()
	days, _ := store.MergeSubscriberParts(parts) // a damaged part: left out here, reported by Flush
	return days
}

// Load reads the parts of today and yesterday that other instances (and
// this process's earlier runs) flushed, so that Today shows the service's
// counts from the start. Call it once, before Record. A stored sketch that
// does not decode is not an error here (the merge leaves it out, and Flush
// reports it): only a store that cannot be read is.
func (s *Subscribers) Load(ctx context.Context) error {
	if s == nil || s.store == nil {
		return nil
	}
	if _, err := s.refresh(ctx); err != nil {
		return fmt.Errorf("load subscriber statistics: %w", err)
	}
	return nil
}

// refresh re-reads the other instances' parts of today and yesterday, and
// returns the parts read.
func (s *Subscribers) refresh(ctx context.Context) ([]store.SubscriberPart, error) {
	today := s.now().UTC()
	parts, err := s.store.SubscriberParts(ctx, today.AddDate(0, 0, -1).Format(time.DateOnly), today.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	others := map[dayKey][]store.SubscriberPart{}
	for _, p := range parts {
		if p.Instance != s.instance {
			k := dayKey{p.Channel, p.Day}
			others[k] = append(others[k], p)
		}
	}
	s.mu.Lock()
	s.others = others
	s.mu.Unlock()
	return parts, nil
}

// Flush writes this instance's part of every day in memory to the store,
// drops the days before today (their counts are then final), re-reads the
// other instances' parts (Today) and settles the days of last week that no
// instance writes any more. A day older than yesterday still in memory (the
// store failed since) is dropped unwritten, with an error: a settled day
// must not change. The error of a damaged stored part comes after the rest
// was done.
func (s *Subscribers) Flush(ctx context.Context) error {
	if s == nil || s.store == nil {
		return nil
	}
	now := s.now().UTC()
	today := now.Format(time.DateOnly)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	s.mu.Lock()
	var parts []store.SubscriberPart
	var lost []string
	for k, c := range s.days {
		if k.day < yesterday {
			lost = append(lost, k.channel+" "+k.day)
			delete(s.days, k)
			continue
		}
		p, err := s.part(k, c)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("flush subscriber statistics: %w", err)
		}
		parts = append(parts, p)
	}
	s.mu.Unlock()
	var errs []error
	if len(lost) > 0 {
		slices.Sort(lost)
		errs = append(errs, fmt.Errorf("flush subscriber statistics: days too old to write, dropped: %s", strings.Join(lost, ", ")))
	}
	if len(parts) > 0 {
		if err := s.store.SaveSubscriberParts(ctx, parts); err != nil {
			return errors.Join(append(errs, fmt.Errorf("flush subscriber statistics: %w", err))...)
		}
	}
	s.mu.Lock()
	for k := range s.days {
		if k.day < today {
			delete(s.days, k)
		}
	}
	s.mu.Unlock()
	if parts, err := s.refresh(ctx); err != nil {
		errs = append(errs, fmt.Errorf("read subscriber statistics: %w", err))
	} else if _, damaged := store.MergeSubscriberParts(parts); damaged != nil {
		errs = append(errs, fmt.Errorf("subscriber statistics: %w", damaged))
	}
	if err := s.settle(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("settle subscriber statistics: %w", err))
	}
	return errors.Join(errs...)
}

// settle merges each day from settleWindow to settleAfter days before now
// that has an instance's part into one settled part.
func (s *Subscribers) settle(ctx context.Context, now time.Time) error {
	parts, err := s.store.SubscriberParts(ctx, now.AddDate(0, 0, -settleWindow).Format(time.DateOnly),
		now.AddDate(0, 0, -settleAfter).Format(time.DateOnly))
	if err != nil {
		return err
	}
	open := map[dayKey]bool{}
	for _, p := range parts {
		if p.Instance != "" {
			open[dayKey{p.Channel, p.Day}] = true
		}
	}
	if len(open) == 0 {
		return nil
	}
	days, damaged := store.MergeSubscriberParts(parts) // a damaged sketch is left out for good, and said
	var settled []store.SubscriberPart
	for _, d := range days {
		if open[dayKey{d.Channel, d.Day}] {
			settled = append(settled, store.SettledPart(d))
		}
	}
	return errors.Join(s.store.SettleSubscriberDays(ctx, settled), damaged)
}

// History returns the stored days from..to, merged, with this instance's
// live counts in place of its last flush; ordered by channel, then day,
// newest first. A damaged stored sketch is left out of its day (Flush
// reports it).
func (s *Subscribers) History(ctx context.Context, from, to string) ([]feed.SubscriberDay, error) {
	var stored []store.SubscriberPart
	if s.store != nil {
		var err error
		if stored, err = s.store.SubscriberParts(ctx, from, to); err != nil {
			return nil, err
		}
	}
	var parts []store.SubscriberPart
	s.mu.Lock()
	for k, c := range s.days {
		if (from != "" && k.day < from) || (to != "" && k.day > to) {
			continue
		}
		if p, err := s.part(k, c); err == nil {
			parts = append(parts, p)
		}
	}
	for _, p := range stored {
		if _, live := s.days[dayKey{p.Channel, p.Day}]; !live || p.Instance != s.instance {
			parts = append(parts, p)
		}
	}
	s.mu.Unlock()
	out, _ := store.MergeSubscriberParts(parts)
	slices.SortFunc(out, func(a, b feed.SubscriberDay) int {
		if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return cmp.Compare(b.Day, a.Day) // newest day first
	})
	return out, nil
}
