// Package migrate copies one store into another ("aggregator migrate
// -from FILE -to URL"), through the store contract only, so that any pair
// of backends works whose target is a store.Importer (PostgreSQL; a bbolt
// file is copied whole by aggregator backup), and proves the copy: for
// each kind of record it counts and hashes what the source holds and what
// the target holds, the same way, after the copy.
//
// What is copied, by Steps: the source states, the stories (Seq, Rev,
// IDShared and the origins of merged copies kept; the link, title and id
// indexes and each source's order rebuilt by the target from them), the
// deletions still in the write order, the alias keys, the tombstones,
// the counters (the write order's last Rev and the last Seq given), the
// WebSub subscriptions, the subscriber statistics and the mailing lists
// (subscribers with their send log, and the mail links' secret). Not copied: the
// membership indexes, which the target's first serve builds from the
// stories (the same members, archive pages cut as if every member had
// arrived in Seq order), and the search index's bookmark, since the
// target's search index is a new one.
//
// A new kind of record is a new Step in Steps: a Copy through the source's and target's concern and
// a Sum over the same reads.
//
// It must not decide anything about stories, and it logs nothing: Run
// returns its Report.
package migrate

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// batch is the number of records read, and imported, at a time.
const batch = 500

// Target is a store that can import (store.Importer).
type Target interface {
	store.Store
	store.Importer
}

// Step copies and sums one kind of record.
type Step struct {
	Name string
	// Copy copies the kind from one store into the other.
	Copy func(ctx context.Context, from store.Store, to Target) error
	// Sum writes every record of the kind that s holds to h, in a form
	// that is the same for the same records in any backend, and returns
	// how many there are.
	Sum func(ctx context.Context, s store.Store, h hash.Hash) (int, error)
}

// Steps are the kinds migrate copies, in the order it copies them.
func Steps() []Step {
	return []Step{
		{"source states", copyStates, sumStates},
		{"stories", copyStories, sumStories},
		{"deletions", copyGone, sumGone},
		{"aliases", copyAliases, sumAliases},
		{"tombstones", copyTombstones, sumTombstones},
		{"counters", copyCounters, sumCounters},
		{"websub subscriptions", copySubscriptions, sumSubscriptions},
		{"subscriber days", copyDays, sumDays},
		{"mailing lists", copyLists, sumLists},
	}
}

// Kind is one step's result.
type Kind struct {
	Name           string
	Source, Target int    // records counted in each
	SourceSum      string // hex SHA-256 of what Sum wrote
	TargetSum      string
}

// Match reports whether the target holds what the source holds.
func (k Kind) Match() bool { return k.Source == k.Target && k.SourceSum == k.TargetSum }

// Report is what Run did.
type Report struct{ Kinds []Kind }

// OK reports whether every kind matches.
func (r Report) OK() bool {
	for _, k := range r.Kinds {
		if !k.Match() {
			return false
		}
	}
	return true
}

// ErrNotEmpty is returned by Run for a target that holds anything.
var ErrNotEmpty = errors.New("the target store is not empty")

// ErrMismatch is returned by Run when a kind's counts or checksums differ
// after the copy.
var ErrMismatch = errors.New("the copy differs from the source")

// Run copies from into to with steps (Steps when nil) and sums both. The
// target must be empty (ErrNotEmpty: migrate never merges two stores) and
// an Importer. A failed step leaves a partial target: drop it and run
// again. It returns the report and ErrMismatch when the sums differ.
func Run(ctx context.Context, from, to store.Store, steps []Step) (Report, error) {
	if steps == nil {
		steps = Steps()
	}
	imp, ok := to.(Target)
	if !ok {
		return Report{}, fmt.Errorf("migrate: the target cannot import (%w): copy a bbolt file with aggregator backup", errors.ErrUnsupported)
	}
	if err := Empty(ctx, to); err != nil {
		return Report{}, err
	}
	for _, s := range steps {
		if err := s.Copy(ctx, from, imp); err != nil {
			return Report{}, fmt.Errorf("migrate %s: %w", s.Name, err)
		}
	}
	rep, err := Compare(ctx, from, to, steps)
	if err == nil && !rep.OK() {
		err = ErrMismatch
	}
	return rep, err
}

// Compare sums every kind of steps (Steps when nil) in both stores.
func Compare(ctx context.Context, a, b store.Store, steps []Step) (Report, error) {
	if steps == nil {
		steps = Steps()
	}
	var rep Report
	for _, s := range steps {
		k := Kind{Name: s.Name}
		var err error
		if k.Source, k.SourceSum, err = sum(ctx, s, a); err != nil {
			return rep, fmt.Errorf("sum %s: %w", s.Name, err)
		}
		if k.Target, k.TargetSum, err = sum(ctx, s, b); err != nil {
			return rep, fmt.Errorf("sum %s: %w", s.Name, err)
		}
		rep.Kinds = append(rep.Kinds, k)
	}
	return rep, nil
}

func sum(ctx context.Context, s Step, st store.Store) (int, string, error) {
	h := sha256.New()
	n, err := s.Sum(ctx, st, h)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// Empty returns ErrNotEmpty when s holds any item, deletion, state,
// subscription or subscriber day.
func Empty(ctx context.Context, s store.Store) error {
	rev, err := s.LastRev(ctx)
	if err != nil {
		return err
	}
	states, err := s.States(ctx)
	if err != nil {
		return err
	}
	subs, err := s.Subscriptions(ctx, "")
	if err != nil {
		return err
	}
	days, err := s.SubscriberParts(ctx, "", "")
	if err != nil {
		return err
	}
	if rev > 0 || len(states) > 0 || len(subs) > 0 || len(days) > 0 {
		return fmt.Errorf("%w (%d writes, %d sources, %d subscriptions, %d subscriber days): migrate into an empty database or schema",
			ErrNotEmpty, rev, len(states), len(subs), len(days))
	}
	return nil
}

// put writes one record to h: its length, then its bytes.
func put(h hash.Hash, parts ...[]byte) {
	for _, p := range parts {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write(p)
	}
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// writes walks the write order: every item and deletion, in Rev order.
func writes(ctx context.Context, s store.Store, fn func(feed.Item) error) error {
	var rev uint64
	for {
		its, err := s.ItemsSince(ctx, rev, batch)
		if err != nil {
			return err
		}
		for _, it := range its {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(its) < batch {
			return nil
		}
		rev = its[len(its)-1].Rev
	}
}

func copyStates(ctx context.Context, from store.Store, to Target) error {
	states, err := from.States(ctx)
	if err != nil {
		return err
	}
	for c := range slices.Chunk(states, batch) {
		if err := to.Import(ctx, store.Copy{States: c}); err != nil {
			return err
		}
	}
	return nil
}

// sumStates covers each state as stored (its item count included) and
// the source's tombstone count.
func sumStates(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	states, err := s.States(ctx)
	if err != nil {
		return 0, err
	}
	for _, st := range states {
		v, err := record.EncodeState(st)
		if err != nil {
			return 0, err
		}
		n, err := s.Tombstones(ctx, st.SourceID)
		if err != nil {
			return 0, err
		}
		put(h, []byte(st.SourceID), v, u64(uint64(n)))
	}
	return len(states), nil
}

// copyStories imports the stories in Seq order (the first story of a link
// or id keeps it in the target's indexes, as it did in the source's). They
// are read whole first: the write order gives them by Rev.
func copyStories(ctx context.Context, from store.Store, to Target) error {
	var stories []feed.Item
	if err := writes(ctx, from, func(it feed.Item) error {
		if it.Seq > 0 {
			stories = append(stories, it)
		}
		return nil
	}); err != nil {
		return err
	}
	slices.SortFunc(stories, func(a, b feed.Item) int { return cmp.Compare(a.Seq, b.Seq) })
	for c := range slices.Chunk(stories, batch) {
		if err := to.Import(ctx, store.Copy{Items: c}); err != nil {
			return err
		}
	}
	return nil
}

func sumStories(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	n := 0
	err := writes(ctx, s, func(it feed.Item) error {
		if it.Seq == 0 {
			return nil
		}
		v, err := record.EncodeItem(it) // Seq, Rev, Origins and IDShared inside
		if err != nil {
			return err
		}
		put(h, []byte(it.SourceID), []byte(it.Key), v)
		n++
		return nil
	})
	if err != nil {
		return 0, err
	}
	count, err := s.Count(ctx)
	put(h, u64(uint64(count)))
	return n, err
}

func copyGone(ctx context.Context, from store.Store, to Target) error {
	var gone []feed.Item
	flush := func() error {
		err := to.Import(ctx, store.Copy{Items: gone})
		gone = gone[:0]
		return err
	}
	err := writes(ctx, from, func(it feed.Item) error {
		if it.Seq != 0 {
			return nil
		}
		gone = append(gone, feed.Item{SourceID: it.SourceID, Key: it.Key, Rev: it.Rev})
		if len(gone) == batch {
			return flush()
		}
		return nil
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	return flush()
}

func sumGone(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	n := 0
	err := writes(ctx, s, func(it feed.Item) error {
		if it.Seq == 0 {
			put(h, []byte(it.SourceID), []byte(it.Key), u64(it.Rev))
			n++
		}
		return nil
	})
	return n, err
}

// perSource runs fn for each source with a saved state.
func perSource(ctx context.Context, s store.Store, fn func(src string) error) error {
	states, err := s.States(ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		if err := fn(st.SourceID); err != nil {
			return err
		}
	}
	return nil
}

func copyAliases(ctx context.Context, from store.Store, to Target) error {
	return perSource(ctx, from, func(src string) error {
		as, err := from.Aliases(ctx, src)
		if err != nil {
			return err
		}
		for c := range slices.Chunk(as, batch) {
			if err := to.Import(ctx, store.Copy{Aliases: c}); err != nil {
				return err
			}
		}
		return nil
	})
}

func sumAliases(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	n := 0
	err := perSource(ctx, s, func(src string) error {
		as, err := s.Aliases(ctx, src)
		for _, a := range as {
			seen, _ := a.Seen.UTC().MarshalText()
			put(h, []byte(a.SourceID), []byte(a.Key), []byte(a.StorySource), []byte(a.StoryKey), []byte(a.Rule), seen)
		}
		n += len(as)
		return err
	})
	return n, err
}

func copyTombstones(ctx context.Context, from store.Store, to Target) error {
	return perSource(ctx, from, func(src string) error {
		ts, err := from.PrunedKeys(ctx, src)
		if err != nil {
			return err
		}
		for c := range slices.Chunk(ts, batch) {
			if err := to.Import(ctx, store.Copy{Tombstones: c}); err != nil {
				return err
			}
		}
		return nil
	})
}

func sumTombstones(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	n := 0
	err := perSource(ctx, s, func(src string) error {
		ts, err := s.PrunedKeys(ctx, src)
		for _, t := range ts {
			put(h, []byte(t.SourceID), []byte(t.Key), u64(uint64(t.At.Unix())))
		}
		n += len(ts)
		return err
	})
	return n, err
}

func copyCounters(ctx context.Context, from store.Store, to Target) error {
	rev, err := from.LastRev(ctx)
	if err != nil {
		return err
	}
	seq, err := from.LastSeq(ctx)
	if err != nil {
		return err
	}
	states, err := from.States(ctx)
	if err != nil {
		return err
	}
	counts := make(map[string]int, len(states))
	for _, st := range states {
		counts[st.SourceID] = st.Items
	}
	return to.Import(ctx, store.Copy{LastRev: rev, LastSeq: seq, ItemCounts: counts})
}

func sumCounters(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	rev, err := s.LastRev(ctx)
	if err != nil {
		return 0, err
	}
	seq, err := s.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	put(h, u64(rev), u64(seq))
	return 2, nil
}

func copySubscriptions(ctx context.Context, from store.Store, to Target) error {
	subs, err := from.Subscriptions(ctx, "")
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := to.PutSubscription(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func sumSubscriptions(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	subs, err := s.Subscriptions(ctx, "")
	if err != nil {
		return 0, err
	}
	for _, sub := range subs {
		sub.Expires, sub.Created = sub.Expires.UTC(), sub.Created.UTC()
		v, err := record.Marshal(sub)
		if err != nil {
			return 0, err
		}
		put(h, v)
	}
	return len(subs), nil
}

// copyDays copies the subscriber statistics as their parts (each
// instance's sketch and fetchers with it), so that the target merges them
// as the source did, and a day that is still counted adds up there.
func copyDays(ctx context.Context, from store.Store, to Target) error {
	days, err := from.SubscriberParts(ctx, "", "")
	if err != nil {
		return err
	}
	for c := range slices.Chunk(days, batch) {
		if err := to.SaveSubscriberParts(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func sumDays(ctx context.Context, s store.Store, h hash.Hash) (int, error) {
	days, err := s.SubscriberParts(ctx, "", "")
	if err != nil {
		return 0, err
	}
	for _, d := range days {
		if len(d.Fetchers) == 0 { // an empty map and nil are one record
			d.Fetchers = nil
		}
		if len(d.Sketch) == 0 {
			d.Sketch = nil
		}
		v, err := record.Marshal(d)
		if err != nil {
			return 0, err
		}
		put(h, v)
	}
	return len(days), nil
}
