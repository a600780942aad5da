package curate

import (
	"fmt"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Channel is the compiled curation of one channel: its own filter, the
// filter and limit of each source it selects, the hides of every source,
// and its pins. It is immutable and safe for concurrent use.
//
// A story (a stored item with the copies of other sources merged into it)
// is a member of the channel when Judge pins it, or when it is kept
// through at least one of its carriers (the source that stored it first,
// then the sources of its merged copies) that the channel selects: not
// hidden by the channel nor by any carrier, kept by that carrier's
// include/exclude/languages and by the channel's, younger than both
// max_ages, and, when the carrier has a limit, among the carrier's newest
// limit stories kept through it (see [Judgment.Member]).
type Channel struct {
	ID       string
	Limit    int
	filter   *Filter
	selected map[string]bool    // source ids the channel selects
	order    []string           // the same, in config order
	sources  map[string]*Filter // curation of selected sources, by source id
	hides    map[string]*Filter // hide lists of every source, by source id
	limits   map[string]int     // per-source limits of selected sources, by source id
	pins     []string           // RefKeys, in order
	pinRefs  []string           // as written
}

// ForChannel compiles ch and the curation of every source it selects among
// sources, and the hide list of every source (a story hidden by any source
// that carried it is hidden everywhere). Rules were checked by config
// validation; an error here means a Config was built by hand with a bad
// rule.
func ForChannel(ch feed.Channel, sources []feed.Source) (*Channel, error) {
	c := &Channel{ID: ch.ID, Limit: ch.Limit, selected: map[string]bool{}, sources: map[string]*Filter{},
		hides: map[string]*Filter{}, limits: map[string]int{}}
	var err error
	if c.filter, err = Compile(ch.Curation, "channel "+ch.ID); err != nil {
		return nil, err
	}
	for _, s := range sources {
		if len(s.Curation.Hide) > 0 {
			if c.hides[s.ID], err = Compile(feed.Curation{Hide: s.Curation.Hide}, "source "+s.ID); err != nil {
				return nil, err
			}
		}
		if !ch.Selects(s) || c.selected[s.ID] {
			continue
		}
		c.selected[s.ID] = true
		c.order = append(c.order, s.ID)
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

// Sources returns the ids of the sources the channel selects, in config
// order.
func (c *Channel) Sources() []string { return c.order }

// Selects reports whether the channel selects the source id.
func (c *Channel) Selects(id string) bool { return c.selected[id] }

// SourceLimit returns the limit of a source the channel selects; 0 for
// none.
func (c *Channel) SourceLimit(id string) int { return c.limits[id] }

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

// Carriers returns the sources that carried a story: the one it is stored
// under, then those of its merged copies, each once.
func Carriers(it feed.Item) []string {
	out := []string{it.SourceID}
	for _, o := range it.Origins {
		dup := false
		for _, id := range out {
			dup = dup || id == o.SourceID
		}
		if !dup {
			out = append(out, o.SourceID)
		}
	}
	return out
}

// Judgment is what a channel's rules say about one story, time and
// per-source limits aside: whether a pin names it, and through which of
// its carriers the rules keep it.
type Judgment struct {
	// Pin is the position of the pin that names the story, from 0; -1
	// when none does. A pinned story is a member whatever the rules.
	Pin int
	// Via lists the carriers, selected by the channel, through which the
	// rules keep the story, in carrier order.
	Via []Via
	// Reason says why the story is not a member when Pin < 0 and Via is
	// empty.
	Reason string
	// Hidden is set when a hide (the channel's or a carrier's) names the
	// story: staff withdrew it, as opposed to rules that never kept it.
	Hidden bool
}

// Via is one carrier through which the rules keep a story.
type Via struct {
	Source string
	// Limit is the source's limit in the channel; 0 for none.
	Limit int
	// Until is when the source's or the channel's max_age drops the story
	// through this carrier, whichever is earlier; zero for never.
	Until time.Time
}

// Judge decides about one story (see Channel). It reads nothing but the
// story and never the clock: max_age is reported as Via.Until.
func (c *Channel) Judge(it feed.Item) Judgment {
	j := Judgment{Pin: -1}
	carriers := Carriers(it)
	selected := false
	for _, id := range carriers {
		selected = selected || c.selected[id]
	}
	if !selected {
		j.Reason = "carried by no source the channel selects"
		return j
	}
	if j.Pin = c.Pinned(it); j.Pin >= 0 {
		return j
	}
	if ref, ok := c.filter.hidden(it); ok {
		j.Reason, j.Hidden = fmt.Sprintf("hidden by channel %s (hide: %s)", c.ID, ref), true
		return j
	}
	for _, id := range carriers {
		if ref, ok := c.hides[id].hidden(it); ok {
			j.Reason, j.Hidden = fmt.Sprintf("hidden by source %s (hide: %s)", id, ref), true
			return j
		}
	}
	if v := c.filter.rules(it); !v.Keep {
		j.Reason = v.Reason
		return j
	}
	until := c.filter.Until(it)
	var reasons []string
	for _, id := range carriers {
		if !c.selected[id] {
			continue
		}
		f := c.sources[id]
		if v := f.rules(it); !v.Keep {
			reasons = append(reasons, v.Reason)
			continue
		}
		j.Via = append(j.Via, Via{Source: id, Limit: c.limits[id], Until: earlier(until, f.Until(it))})
	}
	if len(j.Via) == 0 {
		j.Reason = strings.Join(reasons, "; ")
	}
	return j
}

// earlier returns the earlier of two times, the zero time standing for
// never.
func earlier(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Keeps reports whether the rules keep the story through source id, time
// and limit aside: the test a story must pass to count against the
// source's limit.
func (j Judgment) Keeps(id string) bool {
	for _, v := range j.Via {
		if v.Source == id {
			return true
		}
	}
	return false
}

// Member decides, given whether the story is among the newest limit
// stories kept through each limited carrier (within), whether it is a
// member and until when: the zero time for as long as it is stored, else
// the latest Until of the carriers it is a member through.
func (j Judgment) Member(within func(source string) bool) (bool, time.Time) {
	if j.Pin >= 0 {
		return true, time.Time{}
	}
	member, until := false, time.Time{}
	for _, v := range j.Via {
		if v.Limit > 0 && !within(v.Source) {
			continue
		}
		if v.Until.IsZero() {
			return true, time.Time{}
		}
		if !member || v.Until.After(until) {
			until = v.Until
		}
		member = true
	}
	return member, until
}

// Live reports whether, at now, the story may be shown as far as the rules
// alone can tell: pinned, or kept through a carrier whose max_age has not
// dropped it. It ignores limits; readers use it to re-check what an index
// built earlier lists.
func (j Judgment) Live(now time.Time) bool {
	if j.Pin >= 0 {
		return true
	}
	for _, v := range j.Via {
		if v.Until.IsZero() || now.Before(v.Until) {
			return true
		}
	}
	return false
}
