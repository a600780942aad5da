package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFailureOfCancelledClient: a request whose client went away fails
// with its context's error, which is not logged as a server error; the
// same error while the client waits is (it is the server's own).
func TestFailureOfCancelledClient(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	err := fmt.Errorf("channel c0: members of k: %w", context.Canceled)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRequest("GET", "/channels/c0", nil).WithContext(ctx)
	s.failureOf(gone, err)
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client that went away was logged as an error:\n%s", logs.String())
	}

	waiting := httptest.NewRequest("GET", "/channels/c0", nil)
	if f := s.failureOf(waiting, err); f.status != 500 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a cancellation of the server's own, client waiting: status %d, logs %q; want 500 and logged", f.status, logs.String())
	}
}
