package fetch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// memStore is an in-memory Store.
type memStore struct {
	mu     sync.Mutex
	states map[string]feed.SourceState
	items  map[string]map[string]feed.Item // source → key → item
	fail   error                           // returned by every Save when set
	marks  atomic.Int32                    // MarkParsing calls
}

func newMemStore() *memStore {
	return &memStore{states: map[string]feed.SourceState{}, items: map[string]map[string]feed.Item{}}
}

func (s *memStore) State(_ context.Context, id string) (feed.SourceState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[id]
	if !ok {
		return feed.SourceState{}, feed.Errorf(feed.ENOTFOUND, "source %q not polled", id)
	}
	return st, nil
}

func (s *memStore) SavePoll(_ context.Context, id string, items []feed.Item, st feed.SourceState) (feed.PollCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return feed.PollCounts{}, s.fail
	}
	if st.SourceID != id {
		return feed.PollCounts{}, fmt.Errorf("SavePoll(%q) with state of %q", id, st.SourceID)
	}
	m := s.items[id]
	if m == nil {
		m = map[string]feed.Item{}
		s.items[id] = m
	}
	var c feed.PollCounts
	for _, it := range items {
		old, ok := m[it.Key]
		switch {
		case !ok:
			c.New++
		case feed.SameContent(old, it):
			c.Unchanged++
		default:
			c.Updated++
		}
		m[it.Key] = it
	}
	st.Items = len(m)
	s.states[id] = st
	return c, nil
}

func (s *memStore) SaveState(_ context.Context, st feed.SourceState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.states[st.SourceID] = st
	return nil
}

func (s *memStore) MarkParsing(_ context.Context, id string, at time.Time) error {
	s.marks.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	st := s.states[id]
	st.SourceID, st.Parsing = id, at
	s.states[id] = st
	return nil
}

func (s *memStore) state(id string) feed.SourceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[id]
}

func (s *memStore) itemCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items[id])
}

// lineParser is a fake Parser: each non-empty body line is an item keyed by
// its text; a body starting with "!" is a parse error, "panic" panics.
type lineParser struct {
	calls atomic.Int32
	ttl   int // minutes, copied to Parsed.TTL
}

func (p *lineParser) Parse(body []byte, contentType, feedURL, sourceID string) (feed.Parsed, error) {
	p.calls.Add(1)
	text := string(body)
	switch {
	case strings.HasPrefix(text, "!"):
		return feed.Parsed{}, errors.New("not a feed")
	case text == "panic":
		panic("hostile input")
	}
	out := feed.Parsed{Title: "T " + sourceID, Link: feedURL, TTL: p.ttl}
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out.Items = append(out.Items, feed.Item{SourceID: sourceID, Key: "id:" + line, Title: line})
		}
	}
	return out, nil
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func contextCancelled(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}
