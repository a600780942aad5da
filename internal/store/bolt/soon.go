package bolt

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// soonStates are the states SaveStateSoon queued and not yet committed, by
// source: State and States read them first. One flusher goroutine at a
// time (started by the first queued state, ended when the queue is empty,
// joined by Close) commits them through the group commit of states
// (stateWrites), so they share transactions with the SaveStates waiting
// at the same time. A synchronous write of the source (SaveState,
// SavePoll) forgets its queued state inside its own transaction, and
// MarkParsing writes on top of it, so whichever commits last, the newer
// state stands: the flush writes a state only while it is still the one
// queued (its generation), and drops it from the queue only once
// committed.
type soonStates struct {
	mu       sync.Mutex
	pending  map[string]soonState
	gen      uint64
	flushing bool
	closing  bool          // Close began: SaveStateSoon is SaveState
	closed   chan struct{} // closed when Close begins: the flusher stops gathering
	gather   time.Duration // how long states gather before a commit; soonGather unless a test sets it
	wg       sync.WaitGroup
}

// soonGather is how long the flusher lets states gather before each
// commit. Committing at once, a refresh of 1,000 unchanged sources (8
// pollers) took 411 transactions of about 2.4 states each, two
// fdatasyncs apiece; gathering, it takes about 30, and the refresh took
// 0.40 s against 0.45 (bench/RESULTS.md). The states queued are ones a
// crash may lose anyway (the source is polled again), so a few
// milliseconds more in the queue change no guarantee.
const soonGather = 5 * time.Millisecond

type soonState struct {
	st  feed.SourceState
	gen uint64
}

// SaveStateSoon implements store.Sources: the state is queued and the call
// returns; see soonStates.
func (db *DB) SaveStateSoon(ctx context.Context, state feed.SourceState) error {
	if err := store.CheckSourceID(state.SourceID, ""); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	if db.bolt.IsReadOnly() {
		return fmt.Errorf("save state %s: %w", state.SourceID, store.ErrReadOnly)
	}
	if !db.soon.queue(state, db.flushSoon) {
		return db.SaveState(ctx, state) // Close began: fails as every write after it does
	}
	return nil
}

// queue puts st in the queue, starting flush when no flusher runs; false
// once Close began.
func (s *soonStates) queue(st feed.SourceState, flush func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.pending == nil {
		s.pending = map[string]soonState{}
		s.closed = make(chan struct{})
	}
	s.gen++
	s.pending[st.SourceID] = soonState{st: st, gen: s.gen}
	if !s.flushing {
		s.flushing = true
		s.wg.Go(flush)
	}
	return true
}

// flushSoon commits the queued states until none is left, letting them
// gather for soonGather before each commit (until Close begins). A commit
// that fails drops what it held (as a crash would: those sources read as
// before their SaveStateSoon).
func (db *DB) flushSoon() {
	s := &db.soon
	for {
		s.mu.Lock()
		gather, closed := cmp.Or(s.gather, soonGather), s.closed
		s.mu.Unlock()
		t := time.NewTimer(gather)
		select {
		case <-t.C:
		case <-closed:
			t.Stop()
		}
		s.mu.Lock()
		batch := maps.Clone(s.pending)
		if len(batch) == 0 {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		_ = db.writeState(context.Background(), func(tx *bbolt.Tx) error {
			for id, q := range batch {
				if !s.current(id, q.gen) {
					continue // superseded meanwhile
				}
				st := q.st
				st.Items = int(sourceCount(tx, id))
				if err := putState(tx, st); err != nil {
					return err
				}
			}
			return nil
		})
		s.mu.Lock()
		for id, q := range batch {
			if cur, ok := s.pending[id]; ok && cur.gen == q.gen {
				delete(s.pending, id)
			}
		}
		s.mu.Unlock()
	}
}

// current reports whether gen is still the queued state of id.
func (s *soonStates) current(id string, gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.pending[id]
	return ok && cur.gen == gen
}

// queued returns the state queued for id, if any.
func (s *soonStates) queued(id string) (feed.SourceState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.pending[id]
	return q.st, ok
}

// forget drops the state queued for id: a synchronous write of the source
// replaces it.
func (s *soonStates) forget(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// snapshot returns the queued states.
func (s *soonStates) snapshot() map[string]feed.SourceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]feed.SourceState, len(s.pending))
	for id, q := range s.pending {
		out[id] = q.st
	}
	return out
}

// overlay returns states (ordered by source id) with the queued ones in
// place of those saved, keeping the saved item counts.
func overlay(states []feed.SourceState, queued map[string]feed.SourceState) []feed.SourceState {
	if len(queued) == 0 {
		return states
	}
	seen := map[string]bool{}
	for i, st := range states {
		if q, ok := queued[st.SourceID]; ok {
			q.Items = st.Items
			states[i] = q
			seen[st.SourceID] = true
		}
	}
	for id, q := range queued {
		if !seen[id] {
			states = append(states, q)
		}
	}
	slices.SortFunc(states, func(a, b feed.SourceState) int { return strings.Compare(a.SourceID, b.SourceID) })
	return states
}

// drain stops the queueing and waits for the flusher: what was queued is
// committed (or failed).
func (s *soonStates) drain() {
	s.mu.Lock()
	if !s.closing && s.closed != nil {
		close(s.closed)
	}
	s.closing = true
	s.mu.Unlock()
	s.wg.Wait()
}
