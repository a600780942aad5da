package fetch

import (
	"errors"
	"strconv"
)

// Sentinel errors that callers branch on with errors.Is. Get wraps them with
// the URL and, for ErrPrivateAddress, the refused address.
var (
	// ErrTooLarge means the response body, after decompression, exceeded
	// Options.MaxBody (or its Content-Length announced that it would).
	ErrTooLarge = errors.New("response body too large")
	// ErrPrivateAddress means a dial was refused because the address is
	// loopback, private, link-local, multicast, unspecified or reserved.
	ErrPrivateAddress = errors.New("refusing to connect to a non-public address")
	// ErrTooManyRedirects means the origin redirected more than
	// Options.MaxRedirects times.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrUnfinishedPoll is the failure recorded on a source whose last poll
	// never finished: the process stopped (crashed or was killed) while it
	// parsed the body. The source is not fetched that time; it backs off.
	ErrUnfinishedPoll = errors.New("previous poll did not finish: the process stopped while parsing")
)

// StatusError is returned by Get for a response whose status is neither 2xx
// nor 304. Code is the numeric status and Status the status line text as the
// origin sent it ("500 Internal Server Error").
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string {
	if e.Status == "" {
		return "unexpected HTTP status " + strconv.Itoa(e.Code)
	}
	return "unexpected HTTP status " + e.Status
}
