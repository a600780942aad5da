package bolt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// SaveState stores state alone, as after a 304 Not Modified or a failed
// poll. The store owns state.Items: it is set to the number of items the
// source delivered (see SourceItemCount), whatever the caller passed. An
// empty SourceID is a feed.EINVALID error. It returns once the state is
// committed: calls made while another commit of states runs share the
// next one (see stateWrites).
func (db *DB) SaveState(ctx context.Context, state feed.SourceState) error {
	if err := store.CheckSourceID(state.SourceID, ""); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	err := db.writeState(ctx, func(tx *bbolt.Tx) error {
		db.soon.forget(state.SourceID) // in the transaction: see soonStates
		state.Items = int(sourceCount(tx, state.SourceID))
		return putState(tx, state)
	})
	if err != nil {
		return fmt.Errorf("save state %s: %w", state.SourceID, err)
	}
	return nil
}

// MarkParsing records on sourceID's saved state that a parse of a new body
// began at at (feed.SourceState.Parsing), creating the state when there is
// none. The marks of polls in flight at once share one commit with the
// other state writes (see stateWrites), so marking costs a fraction of a
// commit per changed poll. An empty sourceID is a feed.EINVALID error.
func (db *DB) MarkParsing(ctx context.Context, sourceID string, at time.Time) error {
	if err := store.CheckSourceID(sourceID, ""); err != nil {
		return fmt.Errorf("mark parsing: %w", err)
	}
	err := db.writeState(ctx, func(tx *bbolt.Tx) error {
		st := feed.SourceState{SourceID: sourceID}
		if q, ok := db.soon.queued(sourceID); ok {
			st = q // marked on top of the queued state, which it replaces
			db.soon.forget(sourceID)
		} else if v := tx.Bucket(bucketSources).Get([]byte(sourceID)); v != nil {
			var err error
			if st, err = decodeState(sourceID, v); err != nil {
				return fmt.Errorf("state: %w", err)
			}
		}
		st.Parsing = at
		st.Items = int(sourceCount(tx, sourceID))
		return putState(tx, st)
	})
	if err != nil {
		return fmt.Errorf("mark parsing %s: %w", sourceID, err)
	}
	return nil
}

// stateWrites is the group commit of source states (SaveState,
// MarkParsing). A write that finds no commit of states running commits at
// once, alone; writes that arrive while one runs wait for it and then share
// the next transaction, one commit and one fsync for all of them, however
// many. No write waits for company (bbolt's Batch waits up to 10 ms), and
// each caller returns only once its own state is committed: nothing of a
// state's durability is given up. At the refresh of 1,000 unchanged
// sources, one commit per 304 was a third of the time (issue 17).
type stateWrites struct {
	mu    sync.Mutex
	busy  bool          // a transaction of states is running or about to
	queue []*stateWrite // waiting for the next one, in arrival order
}

// stateWrite is one caller's write: apply writes one state, and an error
// from it leaves nothing of that state written (every one ends with its
// one Put), so the others of its transaction go on.
type stateWrite struct {
	apply func(*bbolt.Tx) error
	done  chan error // its outcome, or errLead
}

// errLead tells a waiting write that it commits the next transaction.
var errLead = errors.New("lead the next commit of states")

// writeState runs apply in a transaction of states, shared with the
// writes that wait at the same time, and returns when it is committed;
// see stateWrites. A ctx done before the call writes nothing; once queued,
// a write is committed (each commit is short).
func (db *DB) writeState(ctx context.Context, apply func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := &db.states
	w := &stateWrite{apply: apply, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if g.busy {
		g.mu.Unlock()
		if err := <-w.done; err != errLead {
			return err
		}
		g.mu.Lock()
	}
	g.busy = true
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	errs := make([]error, len(batch))
	err := db.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		for i, w := range batch {
			errs[i] = w.apply(tx)
		}
		return nil
	})
	for i, w := range batch[1:] {
		w.done <- cmp.Or(err, errs[i+1])
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- errLead // busy stays set: it takes the queue
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return cmp.Or(err, errs[0])
}

func putState(tx *bbolt.Tx, state feed.SourceState) error {
	v, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return tx.Bucket(bucketSources).Put([]byte(state.SourceID), v)
}

// State returns the saved state of sourceID, or a feed.ENOTFOUND error when
// none was ever saved.
func (db *DB) State(ctx context.Context, sourceID string) (feed.SourceState, error) {
	// The queue first: a state leaves it only once committed, so one not
	// queued now is in the view below.
	q, queued := db.soon.queued(sourceID)
	var s feed.SourceState
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSources).Get([]byte(sourceID))
		if v == nil {
			return feed.Errorf(feed.ENOTFOUND, "source %q has no saved state", sourceID)
		}
		var err error
		s, err = decodeState(sourceID, v)
		return err
	})
	if queued && (err == nil || feed.ErrorCode(err) == feed.ENOTFOUND) {
		q.Items = s.Items
		return q, nil
	}
	if err != nil {
		return feed.SourceState{}, fmt.Errorf("state %s: %w", sourceID, err)
	}
	return s, nil
}

// States returns every saved state, ordered by source id.
func (db *DB) States(ctx context.Context) ([]feed.SourceState, error) {
	queued := db.soon.snapshot() // first: see State
	var out []feed.SourceState
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSources).ForEach(func(k, v []byte) error {
			s, err := decodeState(string(k), v)
			if err != nil {
				return fmt.Errorf("source %s: %w", clip(k), err)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	return overlay(out, queued), nil
}
