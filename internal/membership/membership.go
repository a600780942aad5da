// Package membership keeps, for every channel, the one answer to "which
// stories are in channel C, and in what order", and is where every output
// reads it: the subscription documents, the archive pages, the HTML pages
// and their pagination, the item pages' channel links, search, WebSub and
// (next) mailing-list digests and other instances.
//
// # What a member is
//
// curate decides, story by story ([curate.Channel.Judge],
// [curate.Judgment.Member]): a story is a member when a pin names it, or
// when the rules keep it through one of its carriers the channel selects
// and, when that carrier has a limit, it is among the carrier's newest
// limit stories kept through it. This package walks the store, asks, and
// writes the answer to an index in the store (store.UpdateIndex); the
// store never decides. Orders: pinned stories first, in pin order, then
// newest first by sort time (Seq, lowest first, breaks ties: a poll's
// items of one time keep their feed's order); archive
// pages cut the same members in first-stored (Seq) order.
//
// # The index
//
// An index is named by [Key], a hash of the channel's definition (its
// sources, theirs and its curation, pins, every source's hides, the page
// size), so channels defined alike share one, a restart with an unchanged
// config finds its indexes built, and instances with the same config can
// share them. It holds, per member, a few dozen bytes: its Seq, sort time,
// pin, the time age drops it (max_age is exact at read time: it is stored
// as that time, and readers compare it with their clock), and a reference;
// plus, for each limited source, the members it holds (its window).
//
// An index is kept up to date like the search index: it follows the
// store's write order (feed.Item.Rev) from the Rev it last saw. Every
// batch of written items is judged once per index whose channel selects one
// of their carriers; a limited source touched by the batch has its window
// computed again (a walk of its newest stories until limit are kept:
// O(limit + dropped)), and the stories entering or leaving it are judged
// again. A merge writes the story again in the write order (a new
// carrier), and a deleted story leaves every index in the transaction that
// deletes it. Nothing here holds a list of members in memory.
//
// A channel whose definition changes (a reload) gets a new index, built in
// the background by a walk of its sources (one judgment per story; a new
// 100,000-story channel took 15.5 s on a busy 2-core machine, writing
// every story once more for the search index) while the previous index
// keeps answering. Readers re-check every story they read against the channel's
// current rules (Judge and the clock: never the limits), so what a reload
// hides or excludes is gone from every output as soon as the reload is
// in, before the new index is built, and a story whose new text an exclude
// matches is gone before the index catches up with the poll. Once built
// and caught up, the new index answers, the stories whose channels changed
// are written again in the write order (for the search index), and the old
// index is dropped.
//
// # Several instances
//
// Instances sharing one store (PostgreSQL) with the same config share
// their indexes, and each follows the write order into them. Catching up
// is idempotent (an update puts and deletes what the items read say) and
// guarded: each update is written only if the index is still at the Rev
// the follower read it at (store.IndexUpdate.Guard), so a follower that
// read before another wrote loses its update, takes the stored state and
// goes on from there, re-rendering the channels of that index (what the
// other changed is not known here). Without the guard, an update computed
// from an older reading could land after a newer one and keep, say, a
// member that a later edit took out (TestStaleFollowerSkipped). Instances
// with different configs drop each other's indexes: their configs must be
// the same file.
//
// It must not render, serve HTTP or poll; it owns one goroutine (Run).
package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// Store is what the membership index needs from the store.
type Store interface {
	ItemsAfter(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error)
	ItemsSince(ctx context.Context, rev uint64, limit int) ([]feed.Item, error)
	LastRev(ctx context.Context) (uint64, error)
	Item(ctx context.Context, sourceID, key string) (feed.Item, error)

	UpdateIndexes(ctx context.Context, updates map[string]store.IndexUpdate) (map[string]store.IndexState, error)
	IndexState(ctx context.Context, index string) (store.IndexState, bool, error)
	Indexes(ctx context.Context) ([]string, error)
	DropIndex(ctx context.Context, index string, touch bool) error
	Window(ctx context.Context, index, sourceID string) ([]uint64, error)
	LookupMembers(ctx context.Context, index string, seqs []uint64) ([]store.Member, error)
	MemberOf(ctx context.Context, sourceID, key string) ([]string, error)
	MemberSeqs(ctx context.Context, index string, from uint64, limit int) ([]uint64, error)
	TouchSeqs(ctx context.Context, seqs []uint64, seen uint64) (first, last uint64, unseen []uint64, err error)
	ExpireMembers(ctx context.Context, index string, now time.Time, touch bool) (int, error)
	Newest(ctx context.Context, index string, after *store.Member, skip, limit int, reverse bool) ([]store.Member, []feed.Item, error)
	BySeq(ctx context.Context, index string, from, to uint64, limit int) ([]store.Member, []feed.Item, error)
	IndexPage(ctx context.Context, index string, n int) (store.PageInfo, error)
}

// Options tunes an Index; the zero value is usable.
type Options struct {
	// PageSize is the number of members of a full archive page; 50 when
	// zero. Changing it builds every index again.
	PageSize int
	// Now is the clock that max_age is measured against; time.Now when nil.
	Now func() time.Time
	// OnChange, when set, is called by Run with the ids of channels whose
	// members, or a member's content, may have changed. It must not block
	// for long.
	OnChange func(channelIDs []string)
	// SweepEvery is how often members that age took out are deleted from
	// the indexes (readers skip them before that); 10 minutes when zero.
	SweepEvery time.Duration
	// Logger records store failures Run retries after; discarded when nil.
	Logger *slog.Logger
	// Builds shares index builds among instances on one store; nil: this
	// process builds every index it needs (one process holds the store).
	Builds Builds
}

// Builds lets one instance at a time build an index that several need:
// Hold takes, or renews, the right to build it for a while (false: another
// instance holds it), Release gives it up once the index is complete. The
// others wait for the index to be complete in the store, and take the
// build over when its holder stops renewing (it died).
type Builds interface {
	Hold(ctx context.Context, index string) (bool, error)
	Release(ctx context.Context, index string) error
}

// Errors readers branch on.
var (
	// ErrNoChannel: the channel is not configured.
	ErrNoChannel = errors.New("no such channel")
	// ErrNotReady: the channel's index is being built for the first time;
	// nothing can answer for it yet.
	ErrNotReady = errors.New("channel not ready: its membership index is being built")
)

// Index is the membership of every configured channel. Its methods are safe
// for concurrent use; Run does the work in the background.
type Index struct {
	st   Store
	opts Options
	kick chan struct{}

	mu     sync.RWMutex
	chans  map[string]*channel         // by channel id
	defs   map[string]*def             // by index key, for the current config
	order  []string                    // channel ids in config order
	states map[string]store.IndexState // of the indexes, as last read or written

	// switching counts switches under way: a channel answers from its
	// new index before the stories whose channels changed are touched.
	switching atomic.Int32
	// retag lists channels whose label changed: Run touches their stories
	// so that the search index files them anew.
	retag map[string]bool

	// Run's own state.
	builds   map[string]*build // by index key
	replaced map[string]bool   // indexes a switch replaced: drop them without touching their stories
	touched  []touchedRevs     // what only touches wrote: nothing there to judge again
	seen     uint64            // the least Rev every built index has followed, as last read
	awaiting bool              // an index another instance builds is not complete yet (Builds)
}

// def is one index definition of the current config.
type def struct {
	key string
	cur *curate.Channel
}

// channel is one configured channel.
type channel struct {
	feed feed.Channel
	def  *def // its current definition
	// label is what the search index files the channel's stories under:
	// the least id of the channels defined alike, so that a thousand
	// identical channels cost a story one term, not a thousand.
	label string
	// serving is the index that answers reads: def's once built, until
	// then the one before ("" for none). Readers re-check what it lists
	// with def's rules.
	serving string
	pending time.Time // when def was first configured, while it is not serving
}

// New returns an Index over st. It serves nothing until Configure, and
// maintains nothing until Run.
func New(st Store, opts Options) *Index {
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Index{st: st, opts: opts, kick: make(chan struct{}, 1), chans: map[string]*channel{}, defs: map[string]*def{},
		states: map[string]store.IndexState{}, retag: map[string]bool{},
		builds: map[string]*build{}, replaced: map[string]bool{}}
}

// Configure replaces the channels and sources. A channel whose definition
// has a built index answers from it at once; any other keeps answering from
// the index it had (or, on a first start after an upgrade, from the last
// complete index built for its id) while Run builds the new one, and
// reports ErrNotReady when it has none. It reads only index states, never
// items, so it is quick whatever the store holds. Configure fails only when
// the store does, or a rule does not compile (config validation prevents
// that); the previous configuration then stays.
func (ix *Index) Configure(ctx context.Context, channels []feed.Channel, sources []feed.Source) error {
	now := ix.opts.Now()
	defs := map[string]*def{}
	chans := make(map[string]*channel, len(channels))
	var order []string
	ix.mu.RLock()
	old := ix.chans
	ix.mu.RUnlock()
	labels := map[string][]string{}
	for _, ch := range channels {
		k := Key(ch, sources, ix.opts.PageSize)
		d := defs[k]
		if d == nil {
			cur, err := curate.ForChannel(ch, sources)
			if err != nil {
				return fmt.Errorf("configure channel %s: %w", ch.ID, err)
			}
			d = &def{key: k, cur: cur}
			defs[k] = d
		}
		labels[k] = append(labels[k], ch.ID)
		c := &channel{feed: ch, def: d}
		if o := old[ch.ID]; o != nil {
			c.serving = o.serving
		}
		chans[ch.ID] = c
		order = append(order, ch.ID)
	}

	// Which indexes exist and are built.
	names, err := ix.st.Indexes(ctx)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	states := make(map[string]store.IndexState, len(names))
	for _, n := range names {
		st, ok, err := ix.st.IndexState(ctx, n)
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		if ok {
			states[n] = st
		}
	}
	create := map[string]store.IndexUpdate{}
	for k, ids := range labels {
		label := strings.Join(ids, ",")
		if st, ok := states[k]; !ok || st.Label != label {
			create[k] = store.IndexUpdate{Label: label, Now: now}
		}
	}
	if len(create) > 0 {
		sts, err := ix.st.UpdateIndexes(ctx, create)
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		for k, st := range sts {
			states[k] = st
		}
	}
	for _, id := range order {
		c := chans[id]
		if st := states[c.def.key]; st.Complete {
			if c.serving == "" || c.serving == c.def.key {
				c.serving = c.def.key
			}
		}
		if c.serving != "" && !states[c.serving].Complete {
			c.serving = ""
		}
		if c.serving == "" {
			c.serving = lastBuiltFor(id, states)
		}
		if c.serving != c.def.key {
			c.pending = states[c.def.key].Created
		}
	}

	for _, ids := range labels {
		label := slices.Min(ids)
		for _, id := range ids {
			chans[id].label = label
		}
	}
	ix.mu.Lock()
	for id, c := range chans {
		if o := ix.chans[id]; o != nil && o.label != c.label && c.serving != "" {
			ix.retag[id] = true
		}
	}
	ix.chans, ix.defs, ix.order = chans, defs, order
	for k, st := range states {
		// Run may have written since these were read: keep the further.
		if was, ok := ix.states[k]; !ok || st.Rev > was.Rev || st.Complete && !was.Complete {
			ix.states[k] = st
		}
	}
	ix.mu.Unlock()
	ix.Kick()
	return nil
}

// lastBuiltFor returns the most recently changed complete index whose
// label names channel id; "" when none.
func lastBuiltFor(id string, states map[string]store.IndexState) string {
	best, at := "", time.Time{}
	for k, st := range states {
		if !st.Complete || !slices.Contains(strings.Split(st.Label, ","), id) {
			continue
		}
		if best == "" || st.Changed.After(at) {
			best, at = k, st.Changed
		}
	}
	return best
}

// Label returns what the search index files the stories of a channel
// under (see LabelsOf); "" for an unknown channel.
func (ix *Index) Label(channelID string) string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.chans[channelID]; c != nil {
		return c.label
	}
	return ""
}

// Kick asks Run to catch up with the store's writes soon; it never blocks.
func (ix *Index) Kick() {
	select {
	case ix.kick <- struct{}{}:
	default:
	}
}

// Channels returns the configured channels, in config order.
func (ix *Index) Channels() []feed.Channel {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]feed.Channel, 0, len(ix.order))
	for _, id := range ix.order {
		out = append(out, ix.chans[id].feed)
	}
	return out
}

// Current reports whether every channel answers from the index of its
// current definition, caught up with every write the store had when it
// was last checked, and no other index is left: no build, catch-up or
// drop is outstanding.
func (ix *Index) Current(ctx context.Context) (bool, error) {
	if ix.switching.Load() > 0 {
		return false, nil
	}
	last, err := ix.st.LastRev(ctx)
	if err != nil {
		return false, err
	}
	ix.mu.RLock()
	if len(ix.retag) > 0 {
		ix.mu.RUnlock()
		return false, nil
	}
	keys := map[string]bool{}
	for _, c := range ix.chans {
		if c.serving != c.def.key {
			ix.mu.RUnlock()
			return false, nil
		}
		keys[c.serving] = true
	}
	ix.mu.RUnlock()
	for k := range keys {
		st, ok, err := ix.st.IndexState(ctx, k)
		if err != nil {
			return false, err
		}
		if !ok || !st.Complete || st.Rev < last {
			return false, nil
		}
	}
	names, err := ix.st.Indexes(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if !keys[n] {
			return false, nil // an index no channel uses is still to drop
		}
	}
	return true, nil
}

// Followed returns the Rev up to which every index of the current
// definitions follows the store's writes (0 while one is being built; the
// last Rev when no channel is configured): the gone entries at or below it
// are no longer needed by membership, and what ChannelsOf says of a story
// written at or below it is current.
func (ix *Index) Followed(ctx context.Context) (uint64, error) {
	ix.mu.RLock()
	keys := make([]string, 0, len(ix.defs))
	for k := range ix.defs {
		keys = append(keys, k)
	}
	ix.mu.RUnlock()
	if len(keys) == 0 {
		return ix.st.LastRev(ctx)
	}
	var least uint64
	for i, k := range keys {
		st, ok, err := ix.st.IndexState(ctx, k)
		if err != nil {
			return 0, err
		}
		if !ok || !st.Complete {
			return 0, nil
		}
		if i == 0 || st.Rev < least {
			least = st.Rev
		}
	}
	return least, nil
}

// WaitCurrent waits until Current reports true, or ctx ends.
func (ix *Index) WaitCurrent(ctx context.Context) error {
	for {
		ok, err := ix.Current(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// view is what a read needs of one channel.
type view struct {
	index   string
	cur     *curate.Channel
	pending time.Time
}

func (ix *Index) view(channelID string) (view, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.chans[channelID]
	switch {
	case c == nil:
		return view{}, fmt.Errorf("%w %q", ErrNoChannel, channelID)
	case c.serving == "":
		return view{}, fmt.Errorf("channel %s: %w", channelID, ErrNotReady)
	}
	return view{index: c.serving, cur: c.def.cur, pending: c.pending}, nil
}

// live reports whether a member read from an index may be shown at now:
// age has not taken it out, and the channel's current rules keep it. The
// second result is the time it stopped being shown when that is known
// from data (its age), for Last-Modified.
func (v view) live(m store.Member, it feed.Item, now time.Time) (bool, time.Time) {
	if !m.Until.IsZero() && !now.Before(m.Until) {
		return false, m.Until
	}
	if !v.cur.Judge(it).Live(now) {
		return false, v.pending
	}
	return true, time.Time{}
}

// latest returns the latest of times not after now.
func latest(now time.Time, ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) && !t.After(now) {
			out = t
		}
	}
	return out
}
