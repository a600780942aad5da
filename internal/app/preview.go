package app

import (
	"context"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
)

// MaxDroppedShown bounds the items not in the channel a preview lists.
const MaxDroppedShown = 50

// PreviewRequest is what to preview: a channel of a config, and the
// running config to compare it with (Running nil: no comparison;
// RunningErr set: the running config did not load, said instead).
type PreviewRequest struct {
	Config  config.Config
	File    string // names Config for staff
	Channel string

	Running     *config.Config
	RunningFile string
	RunningErr  error
}

// PreviewResult is what the preview command prints and POST /admin/preview
// answers. The JSON names are part of the admin API.
type PreviewResult struct {
	Channel string `json:"channel"`
	Title   string `json:"title"`
	File    string `json:"file"`
	Limit   int    `json:"limit"`
	// Items are the items the channel shows, Pinned of them pinned; Total
	// counts every member.
	Items  []feed.Item `json:"items"`
	Pinned int         `json:"pinned"`
	Total  int         `json:"total"`
	// Dropped are the first MaxDroppedShown stories of the channel's
	// sources that are not members, with why, of DroppedTotal.
	Dropped      []membership.Dropped `json:"dropped,omitempty"`
	DroppedTotal int                  `json:"dropped_total"`
	// Against is the comparison with the running config; nil when none
	// was asked for.
	Against *PreviewDiff `json:"against,omitempty"`
}

// PreviewDiff is what changes from the running config to the previewed one.
type PreviewDiff struct {
	File string `json:"file"`
	// LoadError is set when the running config does not load: no
	// comparison was made.
	LoadError string `json:"load_error,omitempty"`
	// New is set when the running config has no such channel.
	New     bool     `json:"new,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// Change is one item the subscription documents gain (Added) or lose, and
// why it was not in the other config's documents.
type Change struct {
	Added  bool      `json:"added"`
	Item   feed.Item `json:"item"`
	Pinned bool      `json:"pinned,omitempty"` // pinned in the previewed config
	Why    string    `json:"why"`
}

// Preview computes what r's channel contains with r.Config against what st
// stores at now, and the changes against r.Running. A channel r.Config does
// not have is a feed.EINVALID error naming the channels it has.
func Preview(ctx context.Context, st membership.Walker, r PreviewRequest, now time.Time) (PreviewResult, error) {
	ch, ok := r.Config.Channel(r.Channel)
	if !ok {
		ids := make([]string, 0, len(r.Config.Channels))
		for _, c := range r.Config.Channels {
			ids = append(ids, c.ID)
		}
		return PreviewResult{}, feed.Errorf(feed.EINVALID, "%s has no channel %q (channels: %s)", r.File, r.Channel, strings.Join(ids, ", "))
	}
	sel, err := membership.Preview(ctx, st, ch, r.Config.Sources, now)
	if err != nil {
		return PreviewResult{}, err
	}
	shown := sel.Members[:min(len(sel.Members), ch.Limit)]
	res := PreviewResult{Channel: ch.ID, Title: ch.Title, File: r.File, Limit: ch.Limit,
		Items: shown, Pinned: min(sel.Pinned, len(shown)), Total: len(sel.Members),
		Dropped: sel.Dropped[:min(len(sel.Dropped), MaxDroppedShown)], DroppedTotal: len(sel.Dropped)}
	switch {
	case r.RunningErr != nil:
		res.Against = &PreviewDiff{File: r.RunningFile, LoadError: r.RunningErr.Error()}
	case r.Running != nil:
		res.Against = &PreviewDiff{File: r.RunningFile}
		oldCh, ok := r.Running.Channel(r.Channel)
		if !ok {
			res.Against.New = true
			break
		}
		oldSel, err := membership.Preview(ctx, st, oldCh, r.Running.Sources, now)
		if err != nil {
			return PreviewResult{}, err
		}
		res.Against.Changes = diff(oldSel, oldCh.Limit, sel, ch.Limit)
	}
	return res, nil
}

// diff lists the items the subscription documents gain and lose from old
// to sel, each with why it was not in the other.
func diff(old membership.Result, oldLimit int, sel membership.Result, limit int) []Change {
	key := func(it feed.Item) string { return it.SourceID + "\x00" + it.Key }
	head := func(r membership.Result, n int) []feed.Item { return r.Members[:min(n, len(r.Members))] }
	in := func(items []feed.Item) map[string]bool {
		m := map[string]bool{}
		for _, it := range items {
			m[key(it)] = true
		}
		return m
	}
	why := func(r membership.Result, it feed.Item) string {
		for _, d := range r.Dropped {
			if key(d.Item) == key(it) {
				return d.Reason
			}
		}
		return "not among the newest items the channel shows (limit)"
	}
	oldHead, newHead := head(old, oldLimit), head(sel, limit)
	oldIn, newIn := in(oldHead), in(newHead)
	var out []Change
	for i, it := range newHead {
		if !oldIn[key(it)] {
			out = append(out, Change{Added: true, Item: it, Pinned: i < sel.Pinned, Why: why(old, it)})
		}
	}
	for _, it := range oldHead {
		if !newIn[key(it)] {
			out = append(out, Change{Item: it, Why: why(sel, it)})
		}
	}
	return out
}
