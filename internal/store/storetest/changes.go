package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// watcher runs s.WatchChanges in a goroutine and keeps the revs it is
// given.
type watcher struct {
	mu     sync.Mutex
	revs   []uint64
	wake   chan struct{}
	stop   context.CancelFunc
	done   chan error
	cancel sync.Once
}

func watch(t *testing.T, s store.Store) *watcher {
	t.Helper()
	ctx, stop := context.WithCancel(bg)
	w := &watcher{wake: make(chan struct{}, 1), stop: stop, done: make(chan error, 1)}
	go func() {
		w.done <- s.WatchChanges(ctx, func(rev uint64) {
			w.mu.Lock()
			w.revs = append(w.revs, rev)
			w.mu.Unlock()
			select {
			case w.wake <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() { w.end(t) })
	return w
}

// until waits (10 s at most) for a rev that ok accepts.
func (w *watcher) until(t *testing.T, what string, ok func(uint64) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		for _, r := range w.revs {
			if ok(r) {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case err := <-w.done:
			t.Fatalf("WatchChanges returned %v before %s", err, what)
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("no change feed call for %s within 10s (got %v)", what, w.revs)
		}
	}
}

// end cancels the watch and checks that it returns nil.
func (w *watcher) end(t *testing.T) {
	t.Helper()
	w.cancel.Do(func() {
		w.stop()
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("WatchChanges after its context ended: %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("WatchChanges did not return within 10s of its context ending")
		}
	})
}

// testChanges: the change feed reports a write of this handle, and of
// another handle of the same store when the backend has one (another
// instance); it returns nil when its context ends and an error on a
// closed store.
func testChanges(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	w := watch(t, s)
	w.until(t, "the start of listening", func(r uint64) bool { return r == 0 })
	save(t, s, "a", poll("a", 2))
	last, err := s.LastRev(bg)
	if err != nil {
		t.Fatalf("LastRev: %v", err)
	}

	if b.Share != nil {
		w.until(t, "a poll of this handle", func(r uint64) bool { return r >= last })
		other := b.Share(t, s, Options{Now: fixed})
		t.Cleanup(func() { other.Close() })
		ow := watch(t, other)
		ow.until(t, "the start of the other handle's listening", func(r uint64) bool { return r == 0 })
		save(t, other, "b", poll("b", 1))
		last2, err := other.LastRev(bg)
		if err != nil {
			t.Fatalf("LastRev: %v", err)
		}
		if last2 <= last {
			t.Fatalf("LastRev after another poll = %d, want above %d", last2, last)
		}
		w.until(t, "a poll of another handle", func(r uint64) bool { return r >= last2 })
		ow.until(t, "this handle's own poll", func(r uint64) bool { return r >= last2 })
		// A state alone moves no write order; an index update moves it
		// (a touch): both are reported or not, but a touch must be.
		first, lastTouch, _, err := s.TouchSeqs(bg, []uint64{1}, 0)
		if err != nil || first == 0 {
			t.Fatalf("TouchSeqs: %d, %v", first, err)
		}
		ow.until(t, "a touch of the first handle", func(r uint64) bool { return r >= lastTouch })
	} else {
		t.Log("the backend has no second handle (Backend.Share): only this handle's writes checked")
	}

	w.end(t)
	closed := open(t, b, Options{Now: fixed})
	if err := closed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if err := closed.WatchChanges(ctx, func(uint64) {}); err == nil {
		t.Errorf("WatchChanges on a closed store = nil, want an error")
	}
}

// testGuardedIndexUpdate: an update guarded by the Rev its follower read
// applies only while the index is still at that Rev; otherwise nothing of
// it is written and the stored state comes back. Two instances following
// the write order into one index rely on it.
func testGuardedIndexUpdate(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 3))
	its := stored(t, s, "a")
	ms := members(its)

	sts, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"late": {Put: ms[:1], Rev: 9, Guard: true, From: 4, Now: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts["late"]; st != (store.IndexState{}) {
		t.Errorf("guarded update of a missing index from Rev 4: state %+v, want the zero state", st)
	}
	if names, err := s.Indexes(bg); err != nil || len(names) != 0 {
		t.Errorf("a skipped guarded update created indexes %v (%v)", names, err)
	}

	sts, err = s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: ms[:1], Rev: 5, Complete: true, Guard: true, From: 0, Now: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts["ch"]; st.Rev != 5 || st.Count != 1 {
		t.Fatalf("guarded update of a missing index from Rev 0: state %+v, want Rev 5, 1 member", st)
	}
	// Another follower read the index at Rev 5 and moved it to 8 first.
	if _, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: ms[1:2], Rev: 8, Guard: true, From: 5, Now: epoch}}); err != nil {
		t.Fatal(err)
	}
	// This one read it at Rev 5 too, computed from older items: skipped.
	sts, err = s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: ms[2:], Delete: []uint64{ms[1].Seq}, Rev: 7, Guard: true, From: 5, Now: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts["ch"]; st.Rev != 8 || st.Count != 2 {
		t.Errorf("stale guarded update: state %+v, want the stored one (Rev 8, 2 members)", st)
	}
	got, err := s.LookupMembers(bg, "ch", []uint64{ms[0].Seq, ms[1].Seq, ms[2].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != ms[0].Seq || got[1].Seq != ms[1].Seq {
		t.Errorf("members after a skipped update = %+v, want the first two", got)
	}
	// Unguarded updates apply as before, and Rev only rises.
	sts, err = s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: ms[2:], Rev: 6, Now: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts["ch"]; st.Rev != 8 || st.Count != 3 {
		t.Errorf("unguarded update: state %+v, want Rev 8, 3 members", st)
	}
}

// testCopies: the reads aggregator migrate copies a store with: a merged
// copy's alias, pruned keys with their time, and the last Seq given, which
// a prune of the newest story does not take back.
func testCopies(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed, TitleWindow: 48 * time.Hour})
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	agency, viaLink, _ := yonhap(pub)
	agency.SourceID, viaLink.SourceID = "yonhap", "hani"
	save(t, s, "yonhap", []feed.Item{agency})
	save(t, s, "hani", []feed.Item{viaLink})
	as, err := s.Aliases(bg, "hani")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Alias{{SourceID: "hani", Key: viaLink.Key, StorySource: "yonhap", StoryKey: agency.Key, Rule: "link", Seen: epoch}}; len(as) != 1 ||
		as[0].SourceID != want[0].SourceID || as[0].Key != want[0].Key || as[0].StorySource != want[0].StorySource ||
		as[0].StoryKey != want[0].StoryKey || as[0].Rule != want[0].Rule || !as[0].Seen.Equal(want[0].Seen) {
		t.Errorf("Aliases(hani) = %+v, want %+v", as, want)
	}
	if as, err := s.Aliases(bg, "nobody"); err != nil || len(as) != 0 {
		t.Errorf("Aliases of an unknown source = %v, %v", as, err)
	}

	save(t, s, "a", poll("a", 4))
	last, err := s.LastSeq(bg)
	if err != nil || last != 5 {
		t.Fatalf("LastSeq = %d, %v; want 5 (one story merged, five stored)", last, err)
	}
	when := epoch.Add(90 * 24 * time.Hour)
	if _, err := s.Prune(bg, "a", feed.Retention{Items: 1}, when); err != nil {
		t.Fatal(err)
	}
	ts, err := s.PrunedKeys(bg, "a")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tb := range ts {
		keys = append(keys, tb.Key)
		if tb.SourceID != "a" || !tb.At.Equal(when.Truncate(time.Second)) {
			t.Errorf("tombstone %+v, want source a pruned at %v", tb, when)
		}
	}
	if want := []string{"k000", "k001", "k002"}; !slices.Equal(keys, want) {
		t.Errorf("PrunedKeys(a) = %q, want %q in key order", keys, want)
	}
	if n, err := s.Tombstones(bg, "a"); err != nil || n != len(ts) {
		t.Errorf("Tombstones(a) = %d, %v; PrunedKeys gave %d", n, err, len(ts))
	}
	if last, err := s.LastSeq(bg); err != nil || last != 5 {
		t.Errorf("LastSeq after a prune = %d, %v; want 5", last, err)
	}
}
