//go:build !linux

package bolt

import "errors"

// dropMapped is Linux's madvise only: elsewhere the map stays as the kernel
// keeps it, and the error stops the loop.
func dropMapped(uintptr, int64) error { return errors.ErrUnsupported }
