package search

import (
	"context"
	"errors"
	"fmt"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
)

// ErrUnavailable is returned while the index could not be reopened after
// a failed write; the next write tries again.
var ErrUnavailable = errors.New("search index unavailable")

// read returns the open bleve index, held open until done is called.
func (ix *Index) read() (b bleve.Index, done func(), err error) {
	ix.mu.RLock()
	if ix.bleve == nil {
		ix.mu.RUnlock()
		return nil, nil, ErrUnavailable
	}
	return ix.bleve, ix.mu.RUnlock, nil
}

// write fills one batch and writes it. A failed write can leave bleve's
// state in memory broken: on a full disk a segment that could not be
// persisted stays in the index's root, closed, and the next batch panics
// with "assignment to entry in nil map" in zapx. So after any failure the
// index is marked broken, and the next write first closes it and opens it
// again from what was persisted (a half-written segment file is not in
// the persisted root, and bleve removes it). A panic inside bleve's Batch,
// which runs in this goroutine, becomes an error.
func (ix *Index) write(fill func(*bleve.Batch) error) error {
	if err := ix.reopenIfBroken(); err != nil {
		return err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.bleve.NewBatch()
	if err := fill(b); err != nil {
		return err
	}
	defer ix.writes.Add(1) // even a failed batch may have changed what is held
	if err := batch(ix.bleve, b); err != nil {
		ix.broken.Store(true)
		return fmt.Errorf("index batch: %w", err)
	}
	return nil
}

// batch runs bleve's Batch, turning a panic into an error.
func batch(ix bleve.Index, b *bleve.Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bleve panicked: %v", p)
		}
	}()
	return ix.Batch(b)
}

// reopenIfBroken closes and opens the index again after a failed write.
func (ix *Index) reopenIfBroken() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.broken.Load() && ix.bleve != nil {
		return nil
	}
	if ix.bleve != nil {
		_ = closeIndex(ix.bleve) // its state is what failed; the files are what count
		ix.bleve = nil
	}
	b, err := bleve.Open(ix.dir)
	if err != nil {
		return fmt.Errorf("reopen search index %s: %w (%w)", ix.dir, ErrUnavailable, err)
	}
	ix.bleve = b
	ix.broken.Store(false)
	return nil
}

// closeIndex closes a broken index, turning a panic into an error.
func closeIndex(b bleve.Index) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bleve panicked: %v", p)
		}
	}()
	return b.Close()
}

// compactAfter is the number of items one Sync must index before it
// merges the index into one segment (compact): a first start over a full
// store, a reindex or a long backlog. Sync writes syncBatch items a
// segment, and bleve's own merger leaves a dozen or so of them; a search
// reads every segment's dictionary and postings.
var compactAfter = 10_000 // a test lowers it

// compact merges the index's persisted segments into one, as far as
// bleve's single-segment plan goes. Searches and writes go on meanwhile
// (bleve merges a snapshot, then swaps it in); cancelling ctx or closing
// the index stops it, leaving the segments as they were.
func (ix *Index) compact(ctx context.Context) error {
	b, done, err := ix.read()
	if err != nil {
		return err
	}
	adv, err := b.Advanced()
	done() // a merge can take seconds: Close and reopen must not wait for it
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil
	}
	if err := s.ForceMerge(ctx, &mergeplan.SingleSegmentMergePlanOptions); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return ctx.Err()
}
