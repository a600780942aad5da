package app

import (
	"context"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestReadyFollowsFirstPolls: /readyz waits for every enabled source's
// first poll and then for the membership index to follow what the store
// held once they were done (a reader sent to the instance sees those
// polls); once ready it stays ready while later writes are followed.
func TestReadyFollowsFirstPolls(t *testing.T) {
	last, followed := uint64(0), uint64(0)
	r := newReadiness([]feed.Source{{ID: "a"}, {ID: "b"}, {ID: "off", Disabled: true}},
		func(context.Context) (uint64, error) { return last, nil },
		func(context.Context) (uint64, error) { return followed, nil })
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "2 sources") {
		t.Fatalf("before any poll: %v", err)
	}
	r.Polled("a")
	last = 7
	r.Polled("b")
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "up to write 0 of 7") {
		t.Fatalf("polled, index behind: %v", err)
	}
	last, followed = 9, 6 // writes after the first polls do not move the target
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "of 7") {
		t.Fatalf("index at 6 of 7: %v", err)
	}
	followed = 7
	if err := r.Ready(); err != nil {
		t.Fatalf("index at 7 of 7: %v", err)
	}
	last, followed = 20, 0 // a rebuild later: still ready
	if err := r.Ready(); err != nil {
		t.Fatalf("once ready: %v", err)
	}

	empty := newReadiness(nil,
		func(context.Context) (uint64, error) { return 0, nil },
		func(context.Context) (uint64, error) { return 0, nil })
	if err := empty.Ready(); err != nil {
		t.Fatalf("no sources, empty store: %v", err)
	}
}
