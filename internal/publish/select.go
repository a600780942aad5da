package publish

import (
	"fmt"
	"time"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
)

// maxExamined bounds how many items one channel render reads past the ones
// it keeps: a channel whose rules drop nearly everything shows fewer items
// rather than reading the whole store on every render.
const maxExamined = 10000

// pageSize bounds one read transaction while a channel pages the store.
const pageSize = 256

// Selection is what a channel shows, and why.
type Selection struct {
	// Items is what the channel shows: the pinned items found, in pin
	// order, then the newest items its rules keep, at most Limit in all.
	Items  []feed.Item
	Pinned int // how many of Items are pinned
	// Decisions lists every item examined, kept or not, with its reason:
	// the pinned items first, then the walk newest first.
	Decisions []curate.Decision
	// Truncated is true when the walk stopped at maxExamined items with
	// fewer than Limit items kept.
	Truncated bool
}

// Select reads the items channel ch shows from r: its pins, then its
// sources' items newest first through the channel's and the sources'
// curation, until Limit items are kept or the store has no more. It reads
// about Limit plus the number of items dropped, in transactions of at most
// pageSize items.
func Select(r Reader, ch feed.Channel, sources []feed.Source, now time.Time) (Selection, error) {
	var sel Selection
	ids := ch.SourceIDs(sources)
	if len(ids) == 0 || ch.Limit <= 0 {
		return sel, nil
	}
	cc, err := curate.ForChannel(ch, sources)
	if err != nil {
		return sel, fmt.Errorf("select %s: %w", ch.ID, err)
	}

	pins := cc.Pins()
	slots := make([]*feed.Item, len(pins))
	if len(pins) > 0 {
		var keys []string
		for _, p := range pins {
			keys = append(keys, feed.Identity(p, "", "", ""), feed.Identity("", p, "", ""), p)
		}
		found, err := r.Lookup(ids, keys)
		if err != nil {
			return sel, fmt.Errorf("select %s: pins: %w", ch.ID, err)
		}
		for _, it := range found {
			if i := cc.Pinned(it); i >= 0 && slots[i] == nil {
				slots[i] = &it
			}
		}
	}
	pinned := func() int {
		n := 0
		for _, s := range slots {
			if s != nil {
				n++
			}
		}
		return n
	}

	var kept []feed.Item
	var walked []curate.Decision
	walk := cc.Walk(now)
	var after *feed.Item
	examined := 0
	seen := map[[2]string]bool{}
	// Walk until the channel is full; past that, only while a pin given
	// by link is still unresolved (an item keyed by its GUID is not found
	// by Lookup under its link), and never past maxExamined.
	for {
		full := len(kept)+pinned() >= ch.Limit
		if full && pinned() == len(slots) {
			break
		}
		if examined >= maxExamined {
			sel.Truncated = !full
			break
		}
		n := pageSize
		if !full {
			n = min(max(ch.Limit-len(kept)-pinned(), 16), pageSize)
		}
		page, err := r.ItemsAfter(ids, after, n)
		if err != nil {
			return sel, fmt.Errorf("select %s: %w", ch.ID, err)
		}
		for _, it := range page {
			// A story merged from several sources has an entry in each at
			// the same time; one on either side of a page boundary comes
			// back on the next page too.
			if r := [2]string{it.SourceID, it.Key}; seen[r] {
				continue
			} else {
				seen[r] = true
			}
			examined++
			if full && cc.Pinned(it) < 0 {
				continue // only looking for pins now
			}
			d := walk.Offer(it)
			walked = append(walked, d)
			switch {
			case d.Pinned:
				if i := cc.Pinned(it); slots[i] == nil {
					slots[i] = &it
				}
			case d.Keep && len(kept)+pinned() < ch.Limit:
				kept = append(kept, it)
			}
			full = len(kept)+pinned() >= ch.Limit
		}
		if len(page) < n {
			break
		}
		after = &page[len(page)-1]
	}

	for _, s := range slots {
		if s != nil && len(sel.Items) < ch.Limit {
			sel.Items = append(sel.Items, *s)
			sel.Decisions = append(sel.Decisions, curate.Decision{Item: *s, Keep: true, Pinned: true, Reason: "pinned"})
		}
	}
	sel.Pinned = len(sel.Items)
	sel.Items = append(sel.Items, kept[:min(len(kept), ch.Limit-sel.Pinned)]...)
	for _, d := range walked {
		if !d.Pinned {
			sel.Decisions = append(sel.Decisions, d)
		}
	}
	return sel, nil
}
