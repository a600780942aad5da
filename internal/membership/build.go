package membership

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// build is the construction of one index from the store: a walk of each
// selected source's stories newest first, judging each story once, then a
// write of the members in Seq order (so that archive pages are cut as they
// would have been had the members arrived one by one).
type build struct {
	key  string
	cur  *curate.Channel
	rev  uint64 // the store's last write before the walk began
	srcs []string
	si   int
	// after is where the walk of srcs[si] stands.
	after *feed.Item
	// cands are the stories judged so far that are pinned or kept
	// through some carrier; dropped the ones that are neither.
	cands   map[uint64]*cand
	dropped map[uint64]bool
	kept    map[string]int      // stories kept so far through each limited source
	win     map[string][]uint64 // and the first limit of them
	members []store.Member      // once walked: what to write, by Seq
	written int
	// explain keeps every story read and why it is not a member (Preview).
	explain bool
	stories map[uint64]feed.Item
	reasons map[uint64]string
}

type cand struct {
	src, key string
	sort     time.Time
	j        curate.Judgment
}

// buildStep advances the build of index k by one step: a page of one
// source, or a batch of members written.
func (ix *Index) buildStep(ctx context.Context, k string, d *def, st store.IndexState) error {
	b := ix.builds[k]
	if b == nil {
		if st.Count > 0 || st.Pages > 0 {
			// A build a crash interrupted: start again from nothing.
			if err := ix.st.DropIndex(ctx, k, false); err != nil {
				return err
			}
			if _, err := ix.update(ctx, map[string]store.IndexUpdate{k: {Label: st.Label, Now: st.Created}}); err != nil {
				return err
			}
		}
		rev, err := ix.st.LastRev(ctx)
		if err != nil {
			return err
		}
		b = &build{key: k, cur: d.cur, rev: rev, srcs: d.cur.Sources(), cands: map[uint64]*cand{},
			dropped: map[uint64]bool{}, kept: map[string]int{}, win: map[string][]uint64{}}
		ix.builds[k] = b
	}
	if b.si < len(b.srcs) {
		return b.walk(ctx, ix.st)
	}
	if b.members == nil {
		b.members = b.resolve(ix.opts.Now())
	}
	end := min(b.written+writeBatch, len(b.members))
	u := store.IndexUpdate{Put: b.members[b.written:end], PageSize: ix.opts.PageSize, Now: ix.opts.Now()}
	if end == len(b.members) {
		u.Windows, u.Rev, u.Complete = b.win, b.rev, true
	}
	if _, err := ix.update(ctx, map[string]store.IndexUpdate{k: u}); err != nil {
		return err
	}
	b.written = end
	if u.Complete {
		delete(ix.builds, k)
		if ix.opts.Builds != nil {
			if err := ix.opts.Builds.Release(ctx, k); err != nil {
				ix.opts.Logger.Warn("membership index build not released", "index", k, "err", err)
			}
		}
	}
	return nil
}

// walk reads and judges one page of the current source.
func (b *build) walk(ctx context.Context, st Walker) error {
	src := b.srcs[b.si]
	page, err := st.ItemsAfter(ctx, []string{src}, b.after, buildPage)
	if err != nil {
		return err
	}
	limit := b.cur.SourceLimit(src)
	for _, it := range page {
		if b.dropped[it.Seq] {
			continue
		}
		c := b.cands[it.Seq]
		if c == nil {
			j := b.cur.Judge(it)
			if b.explain {
				b.stories[it.Seq] = it
			}
			if j.Pin < 0 && len(j.Via) == 0 {
				b.dropped[it.Seq] = true
				if b.explain {
					b.reasons[it.Seq] = j.Reason
				}
				continue
			}
			c = &cand{src: it.SourceID, key: it.Key, sort: it.Sort(), j: j}
			b.cands[it.Seq] = c
		}
		if limit > 0 && c.j.Keeps(src) {
			if b.kept[src] < limit {
				b.win[src] = append(b.win[src], it.Seq)
			}
			b.kept[src]++
		}
	}
	if len(page) < buildPage {
		b.si, b.after = b.si+1, nil
	} else {
		last := page[len(page)-1]
		b.after = &last
	}
	return nil
}

// resolve decides every candidate with the windows now known, and returns
// the members in Seq order; those age took out already are left out.
func (b *build) resolve(now time.Time) []store.Member {
	sets := make(map[string]map[uint64]bool, len(b.win))
	for src, seqs := range b.win {
		m := make(map[uint64]bool, len(seqs))
		for _, s := range seqs {
			m[s] = true
		}
		sets[src] = m
	}
	out := make([]store.Member, 0, len(b.cands))
	for seq, c := range b.cands {
		member, until := c.j.Member(func(src string) bool { return sets[src][seq] })
		if !member || !until.IsZero() && !now.Before(until) {
			if b.explain {
				b.reasons[seq] = dropReason(c.j, member)
			}
			continue
		}
		out = append(out, store.Member{SourceID: c.src, Key: c.key, Seq: seq, Sort: c.sort, Pin: c.j.Pin, Until: until})
	}
	slices.SortFunc(out, func(a, b store.Member) int { return cmp.Compare(a.Seq, b.Seq) })
	b.cands, b.dropped = nil, nil
	return out
}

// dropReason says why a story the rules keep is not a member: every
// carrier it is kept through has it past its limit, or age took it out.
func dropReason(j curate.Judgment, member bool) string {
	if member {
		return "older than the max_age of every source it is kept through"
	}
	var limits []string
	for _, v := range j.Via {
		limits = append(limits, fmt.Sprintf("source %s limit %d", v.Source, v.Limit))
	}
	return "beyond " + strings.Join(limits, " and ")
}

// Result is what a channel would contain, computed without an index.
type Result struct {
	// Members are the channel's members in its order: pinned first, in pin
	// order, then newest first.
	Members []feed.Item
	Pinned  int // how many of Members are pinned
	// Dropped lists the stories of the channel's sources that are not
	// members, newest first, with why.
	Dropped []Dropped
}

// Dropped is a story that is not a member, and why.
type Dropped struct {
	Item   feed.Item
	Reason string
}

// Walker is what Preview reads: the stories of a source, newest first.
type Walker interface {
	ItemsAfter(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error)
}

// Preview computes what channel ch contains with sources at now, the way
// an index is built (one walk of its sources, one judgment per story), but
// writes nothing: for a preview of a config that is not running. It reads
// every story of the channel's sources.
func Preview(ctx context.Context, st Walker, ch feed.Channel, sources []feed.Source, now time.Time) (Result, error) {
	cur, err := curate.ForChannel(ch, sources)
	if err != nil {
		return Result{}, err
	}
	b := &build{cur: cur, srcs: cur.Sources(), cands: map[uint64]*cand{}, dropped: map[uint64]bool{},
		kept: map[string]int{}, win: map[string][]uint64{}, explain: true,
		stories: map[uint64]feed.Item{}, reasons: map[uint64]string{}}
	for b.si < len(b.srcs) {
		if err := b.walk(ctx, st); err != nil {
			return Result{}, fmt.Errorf("preview %s: %w", ch.ID, err)
		}
	}
	var r Result
	ms := b.resolve(now)
	slices.SortFunc(ms, func(a, c store.Member) int {
		switch {
		case a.Pin >= 0 && c.Pin >= 0 && a.Pin != c.Pin:
			return cmp.Compare(a.Pin, c.Pin)
		case a.Pin >= 0 && c.Pin < 0:
			return -1
		case a.Pin < 0 && c.Pin >= 0:
			return 1
		case a.Pin < 0 && !a.Sort.Equal(c.Sort):
			return c.Sort.Compare(a.Sort)
		}
		return cmp.Compare(c.Seq, a.Seq)
	})
	for _, m := range ms {
		r.Members = append(r.Members, b.stories[m.Seq])
		if m.Pin >= 0 {
			r.Pinned++
		}
	}
	for seq, why := range b.reasons {
		r.Dropped = append(r.Dropped, Dropped{Item: b.stories[seq], Reason: why})
	}
	slices.SortFunc(r.Dropped, func(a, c Dropped) int {
		if x := c.Item.Sort().Compare(a.Item.Sort()); x != 0 {
			return x
		}
		return cmp.Compare(c.Item.Seq, a.Item.Seq)
	})
	return r, nil
}
