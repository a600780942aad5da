package bolt

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/kpolicy/aggregator/internal/store"
)

// classify marks the error of a write transaction with the contract's
// sentinel an operator acts on: store.ErrReadOnly for a file opened read
// only, and store.ErrFull when the file could not grow: bbolt's MaxSize
// was reached, or the file system has no space (ENOSPC) or quota (EDQUOT)
// left. bbolt has rolled the transaction back by then, so the file holds
// what it held before the write.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, berrors.ErrDatabaseReadOnly) {
		return fmt.Errorf("%w: %w", store.ErrReadOnly, err)
	}
	// bbolt formats some write errors with %s ("file resize error: no
	// space left on device"), which loses the errno: match the text too.
	msg := err.Error()
	if errors.Is(err, berrors.ErrMaxSizeReached) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error()) {
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	}
	return err
}
