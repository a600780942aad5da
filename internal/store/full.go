package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"
)

// full marks err with ErrFull when it says that the file could not grow:
// bbolt's MaxSize was reached, or the file system has no space (ENOSPC) or
// quota (EDQUOT) left. bbolt has rolled the transaction back by then, so the
// file holds what it held before the write.
func full(err error) error {
	if err == nil {
		return nil
	}
	// bbolt formats some write errors with %s ("file resize error: no
	// space left on device"), which loses the errno: match the text too.
	msg := err.Error()
	if errors.Is(err, berrors.ErrMaxSizeReached) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error()) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}
