//go:build !linux

package memlimit

import "errors"

// ownCode is Linux's only: elsewhere the code stays mapped as the kernel
// keeps it.
func ownCode() ([]span, error) { return nil, errors.ErrUnsupported }

func drop([]span) error { return errors.ErrUnsupported }
