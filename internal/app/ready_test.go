package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestReadyFollowsFirstPolls: /readyz waits for every enabled source's
// first poll and then for the membership index to follow what the store
// held once they were done (a reader sent to the instance sees those
// polls); once ready it stays ready while later writes are followed.
func TestReadyFollowsFirstPolls(t *testing.T) {
	last, followed := uint64(0), uint64(0)
	r := newReadiness([]feed.Source{{ID: "a"}, {ID: "b"}, {ID: "off", Disabled: true}}, nil,
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

	empty := newReadiness(nil, nil,
		func(context.Context) (uint64, error) { return 0, nil },
		func(context.Context) (uint64, error) { return 0, nil })
	if err := empty.Ready(); err != nil {
		t.Fatalf("no sources, empty store: %v", err)
	}
}

// TestReadyAfterRestart: a source with a poll on record in the store, for
// the URL it has now, is not waited for (it is next due in an hour, and
// the store already holds what it gave); one never polled, or polled at
// another URL, is; then, as at a first start, the index must follow.
func TestReadyAfterRestart(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	states := []feed.SourceState{
		{SourceID: "kept", ConfiguredURL: "https://a.example/feed", LastPoll: at},
		{SourceID: "legacy", LastPoll: at}, // a state from before ConfiguredURL was kept
		{SourceID: "moved", ConfiguredURL: "https://old.example/feed", LastPoll: at},
		{SourceID: "failed-to-start", ConfiguredURL: "https://c.example/feed"}, // a state but no poll
	}
	followed := uint64(0)
	r := newReadiness([]feed.Source{
		{ID: "kept", URL: "https://a.example/feed"}, {ID: "legacy", URL: "https://b.example/feed"},
		{ID: "moved", URL: "https://new.example/feed"}, {ID: "failed-to-start", URL: "https://c.example/feed"},
		{ID: "new", URL: "https://d.example/feed"},
	}, states,
		func(context.Context) (uint64, error) { return 40, nil },
		func(context.Context) (uint64, error) { return followed, nil })
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "3 sources to go") {
		t.Fatalf("at start: %v, want 3 sources to go (moved, failed-to-start, new)", err)
	}
	for _, id := range []string{"moved", "failed-to-start", "new"} {
		r.Polled(id)
	}
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "up to write 0 of 40") {
		t.Fatalf("polled, index behind: %v", err)
	}
	followed = 40
	if err := r.Ready(); err != nil {
		t.Fatalf("index caught up: %v", err)
	}

	restarted := newReadiness([]feed.Source{{ID: "kept", URL: "https://a.example/feed"}}, states,
		func(context.Context) (uint64, error) { return 40, nil },
		func(context.Context) (uint64, error) { return 40, nil })
	if err := restarted.Ready(); err != nil {
		t.Fatalf("a restart whose sources all have polls on record and whose index follows: %v", err)
	}
}
