package store

import "errors"

// Conditions an operator acts on, wrapped by a backend's errors with the
// operation and the store's location.
var (
	// ErrLocked means another process (or another Open in this one) holds
	// the store and this backend allows one at a time.
	ErrLocked = errors.New("database is locked by another process (is another aggregator running?)")
	// ErrCorrupt means the store is damaged, or not a store of this
	// backend at all, in a way the backend cannot read.
	ErrCorrupt = errors.New("database is corrupt or not an aggregator database")
	// ErrSchema means the store was written by a newer aggregator, or by a
	// program that is not the aggregator.
	ErrSchema = errors.New("database schema not supported")
	// ErrFull means a write would take the store past its size cap, or the
	// disk has no room left; nothing of that write was stored.
	ErrFull = errors.New("database is full")
	// ErrReadOnly means the store was opened for reading only and the call
	// would write.
	ErrReadOnly = errors.New("database is open read-only")
	// ErrLeaseLost means the caller no longer holds a lease it renews:
	// it expired and another owner took it, or it was released.
	ErrLeaseLost = errors.New("lease lost")
)
