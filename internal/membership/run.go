package membership

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// Work sizes: one step of Run does at most one of these, so a build never
// holds up the catch-up of the other indexes for long.
const (
	catchUpBatch = 500  // written items judged per catch-up
	buildPage    = 256  // stories of one source read per build step
	writeBatch   = 2000 // members written per build step
	windowPage   = 64   // stories read at a time when a window is recomputed
	// buildSlice is how long build steps go on between two catch-ups.
	buildSlice = 100 * time.Millisecond
)

// Run maintains the indexes until ctx ends: it builds the index of every
// definition that has none, catches every built index up with the store's
// writes (after each Kick), switches a channel to its new index once that
// is built and caught up, drops the indexes nothing uses, and deletes the
// members age took out every SweepEvery. A failing store is logged and
// retried a second later, then less and less often while it fails.
func (ix *Index) Run(ctx context.Context) {
	sweep := time.NewTicker(ix.opts.SweepEvery)
	defer sweep.Stop()
	wait := time.Second
	for ctx.Err() == nil {
		busy, err := ix.step(ctx)
		if err != nil && ctx.Err() != nil {
			return // stopped in the middle of a step: what was written stays
		}
		if err != nil {
			// A full disk, say: retried, a second later, then less often
			// (up to a minute) while it lasts.
			ix.opts.Logger.Error("membership index", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
			continue
		}
		wait = time.Second
		if busy {
			continue
		}
		var await <-chan time.Time
		if ix.awaiting {
			await = time.After(awaitEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-await:
		case <-ix.kick:
		case <-sweep.C:
			if err := ix.sweep(ctx); err != nil && ctx.Err() == nil {
				ix.opts.Logger.Error("membership index sweep", "err", err)
			}
		}
	}
}

// snapshot is what one step works on: the current definitions, their
// index states, and, per channel, its definition and serving index.
type snapshot struct {
	defs    map[string]*def
	states  map[string]store.IndexState
	serving map[string][]string // serving index → channel ids
	chans   map[string]*channel
}

func (ix *Index) snapshot() snapshot {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := snapshot{defs: maps.Clone(ix.defs), states: maps.Clone(ix.states), serving: map[string][]string{}, chans: map[string]*channel{}}
	for _, id := range ix.order {
		c := *ix.chans[id]
		s.chans[id] = &c
		if c.serving != "" {
			s.serving[c.serving] = append(s.serving[c.serving], id)
		}
	}
	return s
}

// mayBuild reports whether this instance builds index k now. Without
// Builds it always does. With them it holds (or renews) the build, and
// when it starts one reads the index's state from the store first: one
// another instance completed is taken as it is, one it left partial (it
// died) is started again from nothing by buildStep. An index another
// instance is building is read from the store until it is complete
// (awaiting: Run looks again every awaitEvery meanwhile).
func (ix *Index) mayBuild(ctx context.Context, k string) (bool, error) {
	b := ix.opts.Builds
	if b == nil {
		return true, nil
	}
	held, err := b.Hold(ctx, k)
	if err != nil {
		return false, err
	}
	if held && ix.builds[k] != nil {
		return true, nil // a build of ours under way
	}
	if !held {
		// Another instance builds it; a build of ours it took over (we
		// stalled past the hold) is not ours to finish.
		delete(ix.builds, k)
	}
	st, ok, err := ix.st.IndexState(ctx, k)
	if err != nil {
		return false, err
	}
	if ok {
		ix.mu.Lock()
		ix.states[k] = st
		ix.mu.Unlock()
	}
	switch {
	case ok && st.Complete:
		if held {
			if err := b.Release(ctx, k); err != nil {
				ix.opts.Logger.Warn("membership index build not released", "index", k, "err", err)
			}
		}
		return false, nil // built: the next snapshot serves it
	case held:
		return true, nil
	}
	ix.awaiting = true
	return false, nil
}

// awaitEvery is how often Run reads the state of an index another
// instance builds, besides every Kick.
const awaitEvery = 2 * time.Second

// update writes index updates and keeps the states Run works from (a
// guarded update skipped brings back the state another instance wrote).
func (ix *Index) update(ctx context.Context, u map[string]store.IndexUpdate) (map[string]store.IndexState, error) {
	sts, err := ix.st.UpdateIndexes(ctx, u)
	if err != nil {
		return nil, err
	}
	ix.mu.Lock()
	for k, st := range sts {
		ix.states[k] = st // the zero state: dropped by another instance, built again
	}
	ix.mu.Unlock()
	return sts, nil
}

// step does one unit of work of each kind (a batch of catch-up, a step of
// one build, the switches due) and reports whether there may be more.
func (ix *Index) step(ctx context.Context) (bool, error) {
	s := ix.snapshot()
	busy, err := ix.catchUp(ctx, s)
	if err != nil {
		return false, err
	}
	// Builds get most of the time: a catch-up batch waits for the write
	// lock behind every poll, a build step reads.
	ix.awaiting = false
	for deadline := time.Now().Add(buildSlice); time.Now().Before(deadline); {
		k, building := "", false
		for _, key := range slices.Sorted(maps.Keys(s.defs)) {
			if !s.states[key].Complete {
				mine, err := ix.mayBuild(ctx, key)
				if err != nil {
					return false, err
				}
				if !mine {
					continue
				}
				k, building = key, true
				break
			}
			delete(ix.builds, key)
		}
		if !building {
			break
		}
		s = ix.snapshot() // with what mayBuild read
		if err := ix.buildStep(ctx, k, s.defs[k], s.states[k]); err != nil {
			return false, err
		}
		busy = true
		s = ix.snapshot()
	}
	switched, err := ix.switchAll(ctx, ix.snapshot())
	if err != nil || busy || switched {
		return busy || switched, err
	}
	if retagged, err := ix.retagAll(ctx); err != nil || retagged {
		return retagged, err
	}
	return false, ix.drop(ctx, s)
}

// retagAll touches the stories of the channels whose label changed, so
// that the search index files them under the new one.
func (ix *Index) retagAll(ctx context.Context) (bool, error) {
	ix.mu.Lock()
	indexes := map[string]bool{}
	for id := range ix.retag {
		if c := ix.chans[id]; c != nil && c.serving != "" {
			indexes[c.serving] = true
		}
	}
	clear(ix.retag)
	ix.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(indexes)) {
		ix.switching.Add(1)
		err := ix.touchDiff(ctx, "", k) // every story of the index
		ix.switching.Add(-1)
		if err != nil {
			return false, err
		}
	}
	return len(indexes) > 0, nil
}

// catchUp judges one batch of the items written since the least advanced
// built index, for every built index of the current definitions.
func (ix *Index) catchUp(ctx context.Context, s snapshot) (bool, error) {
	var keys []string
	var from uint64
	for k, st := range s.states {
		if s.defs[k] == nil {
			continue
		}
		if !st.Complete {
			continue
		}
		if len(keys) == 0 || st.Rev < from {
			from = st.Rev
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return false, nil
	}
	ix.seen = from
	items, err := ix.st.ItemsSince(ctx, from, catchUpBatch)
	if err != nil || len(items) == 0 {
		return false, err
	}
	last := items[len(items)-1].Rev
	items = slices.DeleteFunc(items, func(it feed.Item) bool { return ix.onlyTouched(it.Rev) })
	ix.touched = slices.DeleteFunc(ix.touched, func(r touchedRevs) bool { return r.last <= from })
	now := ix.opts.Now()
	updates := map[string]store.IndexUpdate{}
	var changed []string
	retouch := map[string][]uint64{}
	for _, k := range keys {
		var todo []feed.Item
		for _, it := range items {
			if it.Rev > s.states[k].Rev {
				todo = append(todo, it)
			}
		}
		u, touched, err := ix.apply(ctx, k, s.defs[k].cur, todo, now)
		if err != nil {
			return false, err
		}
		u.Rev, u.Now, u.PageSize = last, now, ix.opts.PageSize
		// Another instance following the same write order may have moved
		// the index since it was read: then this update, computed from an
		// older reading, is skipped (see the package doc).
		u.Guard, u.From = true, s.states[k].Rev
		if len(s.serving[k]) > 0 {
			// Stories of this batch are indexed for search after it (the
			// search index follows no further than Followed); the others
			// whose channels changed (a window moved) are written again.
			inBatch := make(map[uint64]bool, len(todo))
			for _, it := range todo {
				inBatch[it.Seq] = true
			}
			for _, m := range u.Put {
				if !inBatch[m.Seq] {
					retouch[k] = append(retouch[k], m.Seq)
				}
			}
			for _, seq := range u.Delete {
				if !inBatch[seq] {
					retouch[k] = append(retouch[k], seq)
				}
			}
		}
		updates[k] = u
		if touched {
			changed = append(changed, s.serving[k]...)
		}
	}
	sts, err := ix.update(ctx, updates)
	if err != nil {
		return false, err
	}
	var touch []uint64
	for _, k := range keys {
		if sts[k].Rev != last || !sts[k].Complete {
			// Skipped: another instance wrote it first, from a later
			// reading; what it changed is not known here, so the
			// channels it serves are re-rendered.
			changed = append(changed, s.serving[k]...)
			continue
		}
		touch = append(touch, retouch[k]...)
	}
	slices.Sort(touch)
	if err := ix.touch(ctx, slices.Compact(touch)); err != nil {
		return false, err
	}
	ix.notify(changed)
	return true, nil
}

// apply judges the written items for the index k of cur and returns the
// update that brings the index in line, and whether a member (or a story
// that was one) was among them.
func (ix *Index) apply(ctx context.Context, k string, cur *curate.Channel, items []feed.Item, now time.Time) (store.IndexUpdate, bool, error) {
	var u store.IndexUpdate
	dirty := map[string]bool{}
	cands := map[uint64]feed.Item{}
	gone := false
	for _, it := range items {
		if it.Seq == 0 { // gone: the store took it out of every index
			gone = gone || cur.Selects(it.SourceID)
			if cur.SourceLimit(it.SourceID) > 0 {
				dirty[it.SourceID] = true
			}
			continue
		}
		relevant := false
		for _, src := range curate.Carriers(it) {
			if cur.Selects(src) {
				relevant = true
				if cur.SourceLimit(src) > 0 {
					dirty[src] = true
				}
			}
		}
		if relevant {
			cands[it.Seq] = it
		}
	}
	if len(cands) == 0 && len(dirty) == 0 {
		return u, gone, nil
	}
	w := newWindows(ctx, ix.st, k)
	judged := map[uint64]curate.Judgment{}
	for _, src := range slices.Sorted(maps.Keys(dirty)) {
		old, err := w.get(src)
		if err != nil {
			return u, false, err
		}
		neu, walked, err := ix.window(ctx, cur, src, judged)
		if err != nil {
			return u, false, err
		}
		w.put(src, neu)
		if u.Windows == nil {
			u.Windows = map[string][]uint64{}
		}
		u.Windows[src] = neu
		// Stories that enter or leave the window are judged again.
		for seq := range symmetricDiff(old, neu) {
			if _, ok := cands[seq]; ok {
				continue
			}
			if it, ok := walked[seq]; ok {
				cands[seq] = it
				continue
			}
			it, ok, err := ix.storyAt(ctx, k, seq)
			if err != nil {
				return u, false, err
			}
			if ok {
				cands[seq] = it
			}
		}
	}
	seqs := slices.Sorted(maps.Keys(cands))
	existing, err := ix.st.LookupMembers(ctx, k, seqs)
	if err != nil {
		return u, false, err
	}
	was := make(map[uint64]store.Member, len(existing))
	for _, m := range existing {
		was[m.Seq] = m
	}
	touched := gone // a pruned story may have been a member
	for _, seq := range seqs {
		it := cands[seq]
		j, ok := judged[seq]
		if !ok {
			j = cur.Judge(it)
		}
		member, until, err := w.member(j, seq)
		if err != nil {
			return u, false, err
		}
		if member && !until.IsZero() && !now.Before(until) {
			member = false // aged out already: the sweep would only delete it
		}
		m, in := was[seq]
		touched = touched || member || in
		switch {
		case member && (!in || m.Pin != j.Pin || !m.Until.Equal(until)):
			u.Put = append(u.Put, store.Member{SourceID: it.SourceID, Key: it.Key, Seq: seq, Sort: it.Sort(), Pin: j.Pin, Until: until})
		case !member && in:
			u.Delete = append(u.Delete, seq)
		}
	}
	return u, touched, nil
}

// storyAt returns the story of member seq of index k, if it is one.
func (ix *Index) storyAt(ctx context.Context, k string, seq uint64) (feed.Item, bool, error) {
	ms, err := ix.st.LookupMembers(ctx, k, []uint64{seq})
	if err != nil || len(ms) == 0 {
		return feed.Item{}, false, err
	}
	it, err := ix.st.Item(ctx, ms[0].SourceID, ms[0].Key)
	if feed.ErrorCode(err) == feed.ENOTFOUND {
		return feed.Item{}, false, nil
	}
	return it, err == nil, err
}

// window walks the stories of src newest first and returns the Seqs of
// the first limit that cur keeps through src, and the stories it read.
func (ix *Index) window(ctx context.Context, cur *curate.Channel, src string, judged map[uint64]curate.Judgment) ([]uint64, map[uint64]feed.Item, error) {
	limit := cur.SourceLimit(src)
	var kept []uint64
	walked := map[uint64]feed.Item{}
	var after *feed.Item
	for len(kept) < limit {
		page, err := ix.st.ItemsAfter(ctx, []string{src}, after, windowPage)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range page {
			if _, seen := walked[it.Seq]; seen {
				continue
			}
			walked[it.Seq] = it
			j, ok := judged[it.Seq]
			if !ok {
				j = cur.Judge(it)
				judged[it.Seq] = j
			}
			if j.Keeps(src) && len(kept) < limit {
				kept = append(kept, it.Seq)
			}
		}
		if len(page) < windowPage {
			break
		}
		after = &page[len(page)-1]
	}
	return kept, walked, nil
}

// windows caches the windows of one index during an update.
type windows struct {
	ctx context.Context
	st  Store
	k   string
	set map[string]map[uint64]bool
}

func newWindows(ctx context.Context, st Store, k string) *windows {
	return &windows{ctx: ctx, st: st, k: k, set: map[string]map[uint64]bool{}}
}

func (w *windows) get(src string) ([]uint64, error) {
	return w.st.Window(w.ctx, w.k, src)
}

func (w *windows) put(src string, seqs []uint64) {
	m := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		m[s] = true
	}
	w.set[src] = m
}

func (w *windows) member(j curate.Judgment, seq uint64) (bool, time.Time, error) {
	var err error
	member, until := j.Member(func(src string) bool {
		m, ok := w.set[src]
		if !ok {
			var seqs []uint64
			if seqs, err = w.st.Window(w.ctx, w.k, src); err != nil {
				return false
			}
			w.put(src, seqs)
			m = w.set[src]
		}
		return m[seq]
	})
	return member, until, err
}

func symmetricDiff(a, b []uint64) map[uint64]bool {
	out := map[uint64]bool{}
	in := map[uint64]int{}
	for _, s := range a {
		in[s] |= 1
	}
	for _, s := range b {
		in[s] |= 2
	}
	for s, v := range in {
		if v != 3 {
			out[s] = true
		}
	}
	return out
}

// notify tells OnChange about the channels, each once.
func (ix *Index) notify(ids []string) {
	if ix.opts.OnChange == nil || len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	ix.opts.OnChange(slices.Compact(ids))
}

// switchAll moves every channel whose current definition's index is built
// to it, touching the stories whose channels change. It does not wait for
// the new index to catch up: the one it replaces was not followed since
// the definition changed, and the catch-up goes on from where the build
// ended.
func (ix *Index) switchAll(ctx context.Context, s snapshot) (bool, error) {
	// Channels that move from the same index to the same index move at
	// once: a thousand channels defined alike touch their stories once.
	type move struct{ from, to string }
	groups := map[move][]string{}
	for _, id := range slices.Sorted(maps.Keys(s.chans)) {
		c := s.chans[id]
		if k := c.def.key; c.serving != k && s.states[k].Complete {
			groups[move{c.serving, k}] = append(groups[move{c.serving, k}], id)
		}
	}
	moves := slices.SortedFunc(maps.Keys(groups), func(a, b move) int {
		return cmp.Or(strings.Compare(a.from, b.from), strings.Compare(a.to, b.to))
	})
	for _, mv := range moves {
		ids := groups[mv]
		ix.switching.Add(1)
		ix.mu.Lock()
		for _, id := range ids {
			if live := ix.chans[id]; live != nil && live.def.key == mv.to {
				live.serving, live.pending = mv.to, time.Time{}
			}
		}
		ix.mu.Unlock()
		if mv.from != "" {
			ix.replaced[mv.from] = true // touchDiff covers its stories
		}
		err := ix.touchDiff(ctx, mv.from, mv.to)
		ix.switching.Add(-1)
		if err != nil {
			return false, err
		}
		ix.notify(ids)
	}
	return len(moves) > 0, nil
}

// touchDiff gives a new Rev to the stories in one of the indexes old and
// neu and not in the other ("" is an empty index): their channels changed.
func (ix *Index) touchDiff(ctx context.Context, old, neu string) error {
	a, b := &seqStream{ctx: ctx, st: ix.st, k: old, from: 1}, &seqStream{ctx: ctx, st: ix.st, k: neu, from: 1}
	var touch []uint64
	for {
		x, okx, err := a.peek()
		if err != nil {
			return err
		}
		y, oky, err := b.peek()
		if err != nil {
			return err
		}
		switch {
		case !okx && !oky:
			return ix.touch(ctx, touch)
		case okx && (!oky || x < y):
			touch = append(touch, x)
			a.pop()
		case oky && (!okx || y < x):
			touch = append(touch, y)
			b.pop()
		default:
			a.pop()
			b.pop()
		}
		if len(touch) >= writeBatch {
			if err := ix.touch(ctx, touch); err != nil {
				return err
			}
			touch = touch[:0]
		}
	}
}

// touchedRevs is a range of Revs a touch gave, less those it gave to
// stories whose previous write was not followed yet.
type touchedRevs struct {
	first, last uint64
	unseen      map[uint64]bool
}

// touch gives the stories at seqs a new Rev and remembers the Revs, so
// that the catch-up does not judge again what only moved in the write
// order.
func (ix *Index) touch(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	seen := ix.seen // what every index built or being built has followed
	for _, b := range ix.builds {
		seen = min(seen, b.rev)
	}
	first, last, unseen, err := ix.st.TouchSeqs(ctx, seqs, seen)
	if err == nil && last > 0 {
		r := touchedRevs{first: first, last: last, unseen: map[uint64]bool{}}
		for _, u := range unseen {
			r.unseen[u] = true
		}
		ix.touched = append(ix.touched, r)
	}
	return err
}

// onlyTouched reports whether rev was written by a touch alone, of a story
// whose earlier writes every built index had followed.
func (ix *Index) onlyTouched(rev uint64) bool {
	for _, r := range ix.touched {
		if r.first <= rev && rev <= r.last && !r.unseen[rev] {
			return true
		}
	}
	return false
}

// seqStream reads the Seqs of an index in order, a chunk at a time.
type seqStream struct {
	ctx  context.Context
	st   Store
	k    string
	buf  []uint64
	from uint64
	done bool
}

func (s *seqStream) peek() (uint64, bool, error) {
	if len(s.buf) == 0 && !s.done {
		if s.k == "" {
			s.done = true
			return 0, false, nil
		}
		var err error
		if s.buf, err = s.st.MemberSeqs(s.ctx, s.k, s.from, writeBatch); err != nil {
			return 0, false, err
		}
		s.done = len(s.buf) < writeBatch
		if len(s.buf) > 0 {
			s.from = s.buf[len(s.buf)-1] + 1
		}
	}
	if len(s.buf) == 0 {
		return 0, false, nil
	}
	return s.buf[0], true, nil
}

func (s *seqStream) pop() { s.buf = s.buf[1:] }

// drop deletes the indexes no channel uses.
func (ix *Index) drop(ctx context.Context, s snapshot) error {
	names, err := ix.st.Indexes(ctx)
	if err != nil {
		return err
	}
	for _, k := range names {
		if s.defs[k] != nil || len(s.serving[k]) > 0 {
			continue
		}
		if err := ix.st.DropIndex(ctx, k, !ix.replaced[k]); err != nil {
			return err
		}
		delete(ix.replaced, k)
		ix.mu.Lock()
		delete(ix.states, k)
		ix.mu.Unlock()
	}
	return nil
}

// sweep deletes from every serving index the members age took out.
func (ix *Index) sweep(ctx context.Context) error {
	s := ix.snapshot()
	now := ix.opts.Now()
	var changed []string
	for k, ids := range s.serving {
		n, err := ix.st.ExpireMembers(ctx, k, now, true)
		if err != nil {
			return err
		}
		if n > 0 {
			changed = append(changed, ids...)
		}
	}
	ix.notify(changed)
	return nil
}
