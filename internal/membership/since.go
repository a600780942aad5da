package membership

import (
	"context"
	"fmt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// The mailing lists read a channel by Seq: a subscriber's send log is the
// Seq up to which it was mailed, and the next mail carries the members
// after it. Seqs are the stories' own (first stored), the same in every
// index of the channel, so a reload that builds a new index does not
// move a subscriber's place.

// LastSeq returns the greatest Seq among the members the channel's index
// ever held: what a new subscriber's send log starts after, and how far
// a send reads.
func (ix *Index) LastSeq(ctx context.Context, channelID string) (uint64, error) {
	v, err := ix.view(channelID)
	if err != nil {
		return 0, err
	}
	st, _, err := ix.st.IndexState(ctx, v.index)
	if err != nil {
		return 0, fmt.Errorf("channel %s: %w", channelID, err)
	}
	return st.LastSeq, nil
}

// Since returns the members of the channel whose Seq is above after and
// at most upTo that it shows now (age and its current rules, as the pages
// do), in Seq order, at most n of them (the first n).
func (ix *Index) Since(ctx context.Context, channelID string, after, upTo uint64, n int) ([]feed.Item, error) {
	v, err := ix.view(channelID)
	if err != nil {
		return nil, err
	}
	if upTo <= after || n <= 0 {
		return nil, nil
	}
	now := ix.opts.Now()
	var out []feed.Item
	from := after + 1
	for len(out) < n {
		// BySeq leaves out members whose story is gone, so a short batch
		// is not the end: only an empty one is.
		ms, items, err := ix.st.BySeq(ctx, v.index, from, upTo+1, n-len(out))
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", channelID, err)
		}
		for i, m := range ms {
			if ok, _ := v.live(m, items[i], now); ok {
				out = append(out, items[i])
			}
			from = m.Seq + 1
		}
		if len(ms) == 0 || from > upTo {
			break
		}
	}
	return out, nil
}
