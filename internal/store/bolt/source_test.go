package bolt

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestStateNotFoundThenSaved(t *testing.T) {
	db := openTest(t, Options{})
	_, err := db.State(ctx, "src")
	if got, want := feed.ErrorCode(err), feed.ENOTFOUND; got != want {
		t.Fatalf("State before any save: %v, code %q, want %q", err, got, want)
	}

	seoul := time.FixedZone("KST", 9*3600)
	want := feed.SourceState{
		SourceID: "src", URL: "https://example.kr/rss", ETag: `W/"abc"`,
		LastModified: "Mon, 03 Feb 2025 04:05:06 GMT", BodyHash: "deadbeef",
		LastStatus: 503, LastPoll: time.Date(2025, 2, 3, 4, 5, 6, 7, seoul),
		LastSuccess: time.Date(2025, 2, 2, 4, 5, 6, 0, time.UTC), LastError: "fetch: 503 Service Unavailable",
		Errors: 2, NextPoll: time.Date(2025, 2, 3, 5, 0, 0, 0, time.UTC),
		Title: "정책브리핑", Link: "https://example.kr/",
		Items:   42, // owned by the store: there are no items
		Parsing: time.Date(2025, 2, 3, 4, 6, 0, 0, time.UTC),
	}
	if err := db.SaveState(ctx, want); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	want.Items = 0
	got, err := db.State(ctx, "src")
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if !sameState(got, want) {
		t.Errorf("State:\n got %+v\nwant %+v", got, want)
	}
}

func sameState(a, b feed.SourceState) bool {
	return a.LastPoll.Equal(b.LastPoll) && a.LastSuccess.Equal(b.LastSuccess) && a.NextPoll.Equal(b.NextPoll) &&
		a.Parsing.Equal(b.Parsing) && withoutTimes(a) == withoutTimes(b)
}

func withoutTimes(s feed.SourceState) feed.SourceState {
	s.LastPoll, s.LastSuccess, s.NextPoll, s.Parsing = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return s
}

func TestSaveStateKeepsItemCount(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	mustSave(t, db, "src", newItem("a", "A", day(1)), newItem("b", "B", day(2)))

	// After a 304 the poller saves state alone, maybe with a stale count.
	st := state("src")
	st.LastStatus, st.Items = 304, 0
	if err := db.SaveState(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := db.State(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if got.LastStatus != 304 || got.Items != 2 {
		t.Errorf("state after 304: status %d items %d; want 304, 2", got.LastStatus, got.Items)
	}
}

func TestSaveStateInvalid(t *testing.T) {
	db := openTest(t, Options{})
	err := db.SaveState(ctx, feed.SourceState{URL: "https://example.com/"})
	if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
		t.Errorf("SaveState without id: %v, code %q, want %q", err, got, want)
	}
}

func TestStatesOrderedByID(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	if got, err := db.States(ctx); err != nil || len(got) != 0 {
		t.Fatalf("States on empty store = %v, %v; want none", got, err)
	}
	for _, id := range []string{"mofa", "korea-kr", "unikorea"} {
		if err := db.SaveState(ctx, state(id)); err != nil {
			t.Fatal(err)
		}
	}
	mustSave(t, db, "kdi", newItem("a", "A", day(1)))

	states, err := db.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range states {
		ids = append(ids, s.SourceID)
	}
	if got, want := ids, []string{"kdi", "korea-kr", "mofa", "unikorea"}; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	if states[0].Items != 1 || states[0].URL == "" {
		t.Errorf("kdi state = %+v, want 1 item and its URL", states[0])
	}
}

// TestMarkParsing: the mark goes onto the saved state (created if need be)
// and leaves the rest of it alone; marks made at once are all kept.
func TestMarkParsing(t *testing.T) {
	db := openTest(t, Options{})
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := db.SaveState(ctx, feed.SourceState{SourceID: "a", ETag: `"v1"`, Errors: 2}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b", "c", "d"} {
		wg.Go(func() {
			if err := db.MarkParsing(ctx, id, at); err != nil {
				t.Errorf("MarkParsing(%s): %v", id, err)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"a", "b", "c", "d"} {
		st, err := db.State(ctx, id)
		if err != nil || !st.Parsing.Equal(at) {
			t.Errorf("%s: Parsing=%v, err=%v", id, st.Parsing, err)
		}
	}
	if st, _ := db.State(ctx, "a"); st.ETag != `"v1"` || st.Errors != 2 {
		t.Errorf("a: the mark changed the rest of the state: %+v", st)
	}
	if err := db.MarkParsing(ctx, "", at); feed.ErrorCode(err) != feed.EINVALID {
		t.Errorf("empty id: %v", err)
	}
}

// TestStateWritesShareACommit: state writes that arrive while a commit of
// states runs wait for it and then go in one transaction together; each
// returns once its state is committed, and one that fails (a saved state
// it cannot read) fails alone.
func TestStateWritesShareACommit(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSources).Put([]byte("unreadable"), []byte{0xff, 0x01})
	}); err != nil {
		t.Fatal(err)
	}
	// Hold bbolt's writer lock: the first write takes the lead and waits
	// on it, the others queue behind it.
	held, err := db.bolt.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = db.SaveState(ctx, state("lead")) })
	waitFor(t, db, "the first write to lead", func() bool { return db.states.busy })
	for i := 1; i < n; i++ {
		wg.Go(func() { errs[i] = db.SaveState(ctx, state(fmt.Sprintf("s%02d", i))) })
	}
	wg.Go(func() { errs[n] = db.MarkParsing(ctx, "unreadable", day(0)) })
	waitFor(t, db, "the other writes to queue", func() bool { return len(db.states.queue) == n })
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs[:n] {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if errs[n] == nil {
		t.Error("MarkParsing of an unreadable state succeeded")
	}

	for i := range n {
		id := "lead"
		if i > 0 {
			id = fmt.Sprintf("s%02d", i)
		}
		if st, err := db.State(ctx, id); err != nil || st.ETag != `"v1"` {
			t.Errorf("State(%s) = %+v, %v", id, st, err)
		}
	}
}

// waitFor waits until cond holds, checking it under db's lock of state
// writes, and fails the test when it never does.
func waitFor(t *testing.T, db *DB, what string, cond func() bool) {
	t.Helper()
	for range 10_000 {
		db.states.mu.Lock()
		ok := cond()
		db.states.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("waited for %s", what)
}
