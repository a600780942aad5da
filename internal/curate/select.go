package curate

import (
	"fmt"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Channel is the compiled curation of one channel: its own filter, the
// filter and limit of each source it selects, and its pins. It is immutable
// and safe for concurrent use; a Walk is not.
type Channel struct {
	ID      string
	Limit   int
	filter  *Filter
	sources map[string]*Filter
	limits  map[string]int // per-source limits, by source id
	pins    []string       // RefKeys, in order
	pinRefs []string       // as written
}

// ForChannel compiles ch and the curation of every source it selects among
// sources. Rules were checked by config validation; an error here means a
// Config was built by hand with a bad rule.
func ForChannel(ch feed.Channel, sources []feed.Source) (*Channel, error) {
	c := &Channel{ID: ch.ID, Limit: ch.Limit, sources: map[string]*Filter{}, limits: map[string]int{}}
	var err error
	if c.filter, err = Compile(ch.Curation, "channel "+ch.ID); err != nil {
		return nil, err
	}
	for _, s := range sources {
		if !ch.Selects(s) {
			continue
		}
		if !s.Curation.IsZero() {
			if c.sources[s.ID], err = Compile(s.Curation, "source "+s.ID); err != nil {
				return nil, err
			}
		}
		if s.Limit > 0 {
			c.limits[s.ID] = s.Limit
		}
	}
	for _, p := range ch.Pin {
		if k := RefKey(p); k != "" {
			c.pins = append(c.pins, k)
			c.pinRefs = append(c.pinRefs, p)
		}
	}
	return c, nil
}

// Pins returns the channel's pin references as written, in order.
func (c *Channel) Pins() []string { return c.pinRefs }

// Pinned returns the position of it among the channel's pins, or -1.
func (c *Channel) Pinned(it feed.Item) int {
	if len(c.pins) == 0 {
		return -1
	}
	for _, k := range itemRefs(it) {
		for i, p := range c.pins {
			if p == k {
				return i
			}
		}
	}
	return -1
}

// Decision is what a walk decided about one item, with its reason.
type Decision struct {
	Item   feed.Item
	Keep   bool
	Pinned bool
	Reason string // why dropped, or "pinned", or the include rule that kept it; may be empty
}

// Walk starts a selection at time now: offer it the channel's items newest
// first and it keeps what the channel shows.
func (c *Channel) Walk(now time.Time) *Walk {
	return &Walk{c: c, now: now, perSource: map[string]int{}}
}

// Walk is one pass over a channel's items, newest first. Not safe for
// concurrent use.
type Walk struct {
	c         *Channel
	now       time.Time
	perSource map[string]int
}

// Offer decides about the next item, newest first: the source's filter,
// then the channel's, then the source's limit. Pinned items are kept and
// do not count against the source limit. Offer does not apply the channel
// limit: the caller stops when it has enough.
func (w *Walk) Offer(it feed.Item) Decision {
	d := Decision{Item: it}
	if w.c.Pinned(it) >= 0 {
		d.Keep, d.Pinned, d.Reason = true, true, "pinned"
		return d
	}
	if f := w.c.sources[it.SourceID]; f != nil {
		if v := f.Check(it, w.now); !v.Keep {
			d.Reason = v.Reason
			return d
		} else if v.Rule != nil {
			d.Reason = fmt.Sprintf("included by source %s rule %s", it.SourceID, where(*v.Rule))
		}
	}
	v := w.c.filter.Check(it, w.now)
	if !v.Keep {
		d.Reason = v.Reason
		return d
	}
	if v.Rule != nil {
		d.Reason = fmt.Sprintf("included by channel %s rule %s", w.c.ID, where(*v.Rule))
	}
	if n := w.c.limits[it.SourceID]; n > 0 {
		if w.perSource[it.SourceID] >= n {
			return Decision{Item: it, Reason: fmt.Sprintf("beyond source %s limit %d", it.SourceID, n)}
		}
		w.perSource[it.SourceID]++
	}
	d.Keep = true
	return d
}
