package bolt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// TestMaxSize fills a store capped at 1 MiB: the write that would grow the
// file fails with store.ErrFull and stores nothing, what was stored stays readable
// and sound, small state writes still fit, and reopening with a higher cap
// accepts the same write.
func TestMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	const limit = 1 << 20
	db, err := Open(path, Options{MaxSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	// Random letters: items are stored compressed, and a repeated byte
	// would take almost nothing.
	rng := rand.New(rand.NewPCG(1, 2))
	letters := make([]byte, 8<<10)
	for i := range letters {
		letters[i] = byte('!' + rng.IntN(94))
	}
	body := string(letters)
	batch := func(n int) []feed.Item {
		items := make([]feed.Item, 20)
		for i := range items {
			items[i] = feed.Item{Key: fmt.Sprintf("id:%d-%d", n, i), Title: "t", Content: body,
				Published: time.Date(2025, 1, 1, 0, 0, n, 0, time.UTC), Dated: true}
		}
		return items
	}
	var stored, polls int
	var fullErr error
	for polls = range 100 {
		_, err := db.SavePoll(ctx, "a", batch(polls), feed.SourceState{})
		if err != nil {
			fullErr = err
			break
		}
		stored += 20
	}
	if !errors.Is(fullErr, store.ErrFull) {
		t.Fatalf("after %d polls: err=%v, want store.ErrFull", polls, fullErr)
	}
	if stored == 0 {
		t.Fatal("the first poll already failed: the cap is too small for the test")
	}
	if n, err := db.SourceItemCount(ctx, "a"); err != nil || n != stored {
		t.Fatalf("count=%d, %v; want %d (the failed poll stores nothing)", n, err, stored)
	}
	if items, err := itemsOf(db, []string{"a"}, 1000); err != nil || len(items) != stored {
		t.Fatalf("items=%d, %v; want %d", len(items), err, stored)
	}
	if err := db.SaveState(ctx, feed.SourceState{SourceID: "a", LastError: "save poll: database is full"}); err != nil {
		t.Errorf("a small state write after the failure: %v", err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Space returns: the same poll now succeeds.
	db, err = Open(path, Options{MaxSize: 8 * limit})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SavePoll(ctx, "a", batch(polls), feed.SourceState{}); err != nil {
		t.Fatalf("with room again: %v", err)
	}
	if n, _ := db.SourceItemCount(ctx, "a"); n != stored+20 {
		t.Errorf("count=%d, want %d", n, stored+20)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}
