package bolt

import (
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestStateKeepsPollerFields round-trips the fields the poller keeps for
// redirects, retirement, TTL and adaptive scheduling.
func TestStateKeepsPollerFields(t *testing.T) {
	db := openTest(t, Options{})
	want := feed.SourceState{
		SourceID: "src", URL: "https://new.example.kr/rss",
		ConfiguredURL: "https://old.example.kr/rss", AdoptedURL: "https://new.example.kr/rss",
		RedirectTarget: "https://newer.example.kr/rss", RedirectCount: 2,
		Retired: true, TTL: 90 * time.Minute,
		LastChange: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Warning:    "redirected permanently to https://newer.example.kr/rss (2 of 3)",
	}
	if err := db.SaveState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := db.State(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastChange.Equal(want.LastChange) {
		t.Errorf("LastChange=%v, want %v", got.LastChange, want.LastChange)
	}
	got.LastChange, want.LastChange = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("State:\n got %+v\nwant %+v", got, want)
	}
	if got, want := got.PollURL("https://old.example.kr/rss"), "https://new.example.kr/rss"; got != want {
		t.Errorf("PollURL=%q, want the adopted %q", got, want)
	}
	if got, want := got.PollURL("https://elsewhere.example/rss"), "https://elsewhere.example/rss"; got != want {
		t.Errorf("PollURL after a config change=%q, want the configured %q", got, want)
	}
}
