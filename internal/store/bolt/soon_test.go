package bolt

import (
	"fmt"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestStateSoonDoesNotWait: SaveStateSoon returns while another commit
// holds bbolt's writer lock (a 304's state waits for no fsync), State and
// States read it meanwhile, and it is committed once the lock is free.
func TestStateSoonDoesNotWait(t *testing.T) {
	db := openTest(t, Options{})
	held, err := db.bolt.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	st := state("a")
	st.LastStatus = 304
	done := make(chan error, 1)
	go func() { done <- db.SaveStateSoon(ctx, st) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SaveStateSoon waited for the writer lock")
	}
	if got, err := db.State(ctx, "a"); err != nil || got.LastStatus != 304 {
		t.Errorf("State while the commit waits: %+v, %v", got, err)
	}
	if sts, err := db.States(ctx); err != nil || len(sts) != 1 || sts[0].LastStatus != 304 {
		t.Errorf("States while the commit waits: %+v, %v", sts, err)
	}
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	db.soon.drain()
	if n := len(db.soon.snapshot()); n != 0 {
		t.Errorf("%d states still queued after the flush", n)
	}
	var v []byte
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		v = tx.Bucket(bucketSources).Get([]byte("a"))
		return nil
	}); err != nil || v == nil {
		t.Fatalf("the queued state was not committed: %v", err)
	}
}

// TestStateSoonSuperseded: a SavePoll of the source after SaveStateSoon
// replaces the queued state, so the flush that comes after it writes
// nothing over the poll's state.
func TestStateSoonSuperseded(t *testing.T) {
	db := openTest(t, Options{})
	db.soon.flushing = true // as if a flusher ran: the state stays queued
	old := state("a")
	old.ETag = `"queued"`
	if err := db.SaveStateSoon(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.State(ctx, "a"); got.ETag != `"queued"` {
		t.Fatalf("State = %+v, want the queued state", got)
	}
	polled := state("a")
	polled.ETag = `"polled"`
	if _, err := db.SavePoll(ctx, "a", []feed.Item{{SourceID: "a", Key: "k", Title: "t", Link: "https://example.org/k"}}, polled); err != nil {
		t.Fatal(err)
	}
	db.flushSoon() // the flusher's turn comes after the poll's commit
	if got, err := db.State(ctx, "a"); err != nil || got.ETag != `"polled"` || got.Items != 1 {
		t.Errorf("State = %+v, %v; want the poll's state (the queued one was replaced)", got, err)
	}
}

// TestStateSoonGathers: states queued while the flusher gathers share one
// commit, and Close (drain) ends the gathering at once rather than wait it
// out.
func TestStateSoonGathers(t *testing.T) {
	db := openTest(t, Options{})
	db.soon.gather = time.Hour // only drain ends it
	before := db.writes.Load()
	for i := range 50 {
		st := state(fmt.Sprintf("s%02d", i))
		st.LastStatus = 304
		if err := db.SaveStateSoon(ctx, st); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			time.Sleep(10 * time.Millisecond) // a flusher that did not gather commits meanwhile
		}
	}
	if n := db.writes.Load() - before; n != 0 {
		t.Fatalf("%d commits while the flusher gathers, want 0", n)
	}
	db.soon.drain()
	if n := db.writes.Load() - before; n != 1 {
		t.Errorf("%d commits for 50 queued states, want 1", n)
	}
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		for i := range 50 {
			if tx.Bucket(bucketSources).Get(fmt.Appendf(nil, "s%02d", i)) == nil {
				t.Errorf("state s%02d was not committed", i)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
