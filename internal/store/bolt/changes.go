package bolt

import (
	"context"
	"errors"
	"fmt"
)

// The change feed of a file one process holds: no other process can write
// it while it is open, and this process's own writes are seen where they
// are made, so there is nothing to report. (An in-process broadcast of
// every commit was tried: it made the App's change listener re-render on
// every write of its own, and on a full disk kept the server too busy to
// answer, TestFullDisk.)

var errClosed = errors.New("store closed")

// WatchChanges calls fn(0) once and waits for ctx to end; see
// store.Changes. It returns an error on a closed DB.
func (db *DB) WatchChanges(ctx context.Context, fn func(rev uint64)) error {
	if db.closed.Load() {
		return fmt.Errorf("watch changes %s: %w", db.path, errClosed)
	}
	fn(0)
	<-ctx.Done()
	return nil
}
