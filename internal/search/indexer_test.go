package search

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// failing fails its first n Syncs, then succeeds; it records when each ran.
type failing struct {
	mu    sync.Mutex
	n     int
	calls []time.Time
	done  chan struct{} // closed at the first success
}

func (f *failing) Sync(ctx context.Context, st Store) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Now())
	if len(f.calls) <= f.n {
		return 0, errors.New("write /idx/store/0003.zap: no space left on device")
	}
	if len(f.calls) == f.n+1 {
		close(f.done)
	}
	return 7, nil
}

// TestIndexerRetriesWithBackoff: a failing catch-up is recorded and tried
// again after a doubling backoff, kicks in between do not hammer the disk,
// and the first success clears the failure.
func TestIndexerRetriesWithBackoff(t *testing.T) {
	defer func(a, b time.Duration) { minRetry, maxRetry = a, b }(minRetry, maxRetry)
	minRetry, maxRetry = 20*time.Millisecond, 80*time.Millisecond
	f := &failing{n: 4, done: make(chan struct{})}
	x := newIndexer(f, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { x.Run(ctx) })
	stopKicking := make(chan struct{})
	wg.Go(func() { // a poll every millisecond
		for {
			select {
			case <-stopKicking:
				return
			case <-time.After(time.Millisecond):
				x.Kick()
			}
		}
	})
	for deadline := time.Now().Add(5 * time.Second); x.State().Failing == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no failure recorded")
		}
	}
	if st := x.State(); st.LastError == "" || st.NextTry.IsZero() {
		t.Errorf("failing state %+v", st)
	}
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("never succeeded")
	}
	close(stopKicking)
	for deadline := time.Now().Add(5 * time.Second); x.State().Failing != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state after the success: %+v", x.State())
		}
	}
	cancel()
	wg.Wait()
	st := x.State()
	if st.LastError != "" || st.Failures != 4 || st.LastSuccess.IsZero() || !st.NextTry.IsZero() {
		t.Errorf("state after the success: %+v", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []time.Duration{20, 40, 80, 80} // ms between a failure and the next try
	for i, w := range want {
		if gap := f.calls[i+1].Sub(f.calls[i]); gap < w*time.Millisecond {
			t.Errorf("try %d came %v after failure %d, want at least %v", i+2, gap, i+1, w*time.Millisecond)
		}
	}
}

// unjudged is a store whose membership indexes have judged nothing yet.
type unjudged struct{ *published }

func (unjudged) Judged(context.Context) (uint64, error) { return 0, nil }

// TestIndexerBehind: State counts the writes the index does not hold,
// those waiting for the membership indexes included, and 0 once a
// catch-up has indexed them.
func TestIndexerBehind(t *testing.T) {
	db := openStore(t)
	ix := openIndex(t, filepath.Join(t.TempDir(), "ix"))
	save(t, db, "a", item("a", "1", "one", "", day0), item("a", "2", "two", "", day0))
	save(t, db, "b", item("b", "3", "three", "", day0))
	wait := newIndexer(ix, unjudged{db}, nil)
	if _, err := ix.Sync(context.Background(), unjudged{db}); err != nil {
		t.Fatal(err)
	}
	if got, want := wait.State().Behind, uint64(3); got != want {
		t.Errorf("behind %d before the membership indexes judged, want %d", got, want)
	}
	x := newIndexer(ix, db, nil)
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if got := x.State().Behind; got != 0 {
		t.Errorf("behind %d after a catch-up, want 0", got)
	}
	save(t, db, "a", item("a", "4", "four", "", day0))
	if got, want := x.State().Behind, uint64(1); got != want {
		t.Errorf("behind %d after one more write, want %d", got, want)
	}
}
