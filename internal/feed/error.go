package feed

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to one HTTP status in the server.
const (
	EINVALID  = "invalid"
	ENOTFOUND = "not_found"
	// EGONE: it was published and staff withdrew it (a hide); unlike
	// ENOTFOUND it is not coming back.
	EGONE     = "gone"
	ECONFLICT = "conflict"
	EINTERNAL = "internal"
)

// Error is an application error that callers branch on by Code. Message is
// safe to show to a user; anything else is an internal error and only its
// code reaches the user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain,
// EINTERNAL for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the Message of its
// *Error, or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
