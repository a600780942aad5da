package fetch

import (
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// FutureSlack is how far ahead of the clock an item may be dated before it
// counts as dated in the future: publishers' clocks drift a little.
const FutureSlack = 5 * time.Minute

// futureDates applies the poller's rule to items dated after now plus
// FutureSlack, in place: with hide it drops them and reports how many it
// dropped; otherwise it dates them now (Published and Updated). An Updated
// date in the future is brought back to now either way.
func futureDates(items []feed.Item, now time.Time, hide bool) ([]feed.Item, int) {
	limit := now.Add(FutureSlack)
	kept := items[:0]
	hidden := 0
	for _, it := range items {
		if it.Published.After(limit) {
			if hide {
				hidden++
				continue
			}
			it.Published = now
		}
		if it.Updated.After(limit) {
			it.Updated = now
		}
		kept = append(kept, it)
	}
	clear(items[len(kept):])
	return kept, hidden
}
