package membership

import (
	"cmp"
	"slices"
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
}

type cand struct {
	src, key string
	sort     time.Time
	j        curate.Judgment
}

// buildStep advances the build of index k by one step: a page of one
// source, or a batch of members written.
func (ix *Index) buildStep(k string, d *def, st store.IndexState) error {
	b := ix.builds[k]
	if b == nil {
		if st.Count > 0 || st.Pages > 0 {
			// A build a crash interrupted: start again from nothing.
			if err := ix.st.DropIndex(k, false); err != nil {
				return err
			}
			if _, err := ix.st.UpdateIndexes(map[string]store.IndexUpdate{k: {Label: st.Label, Now: st.Created}}); err != nil {
				return err
			}
		}
		rev, err := ix.st.LastRev()
		if err != nil {
			return err
		}
		b = &build{key: k, cur: d.cur, rev: rev, srcs: d.cur.Sources(), cands: map[uint64]*cand{},
			dropped: map[uint64]bool{}, kept: map[string]int{}, win: map[string][]uint64{}}
		ix.builds[k] = b
	}
	if b.si < len(b.srcs) {
		return b.walk(ix.st)
	}
	if b.members == nil {
		b.members = b.resolve(ix.opts.Now())
	}
	end := min(b.written+writeBatch, len(b.members))
	u := store.IndexUpdate{Put: b.members[b.written:end], PageSize: ix.opts.PageSize, Now: ix.opts.Now()}
	if end == len(b.members) {
		u.Windows, u.Rev, u.Complete = b.win, b.rev, true
	}
	if _, err := ix.st.UpdateIndexes(map[string]store.IndexUpdate{k: u}); err != nil {
		return err
	}
	b.written = end
	if u.Complete {
		delete(ix.builds, k)
	}
	return nil
}

// walk reads and judges one page of the current source.
func (b *build) walk(st Store) error {
	src := b.srcs[b.si]
	page, err := st.ItemsAfter([]string{src}, b.after, buildPage)
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
			if j.Pin < 0 && len(j.Via) == 0 {
				b.dropped[it.Seq] = true
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
			continue
		}
		out = append(out, store.Member{SourceID: c.src, Key: c.key, Seq: seq, Sort: c.sort, Pin: c.j.Pin, Until: until})
	}
	slices.SortFunc(out, func(a, b store.Member) int { return cmp.Compare(a.Seq, b.Seq) })
	b.cands, b.dropped = nil, nil
	return out
}
