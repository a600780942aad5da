package membership

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// fakeBuilds plays the other instances' hold on index builds.
type fakeBuilds struct {
	mu       sync.Mutex
	free     bool // Hold succeeds
	holds    int
	released []string
}

func (f *fakeBuilds) Hold(_ context.Context, index string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds++
	return f.free, nil
}

func (f *fakeBuilds) Release(_ context.Context, index string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, index)
	return nil
}

func buildsFixture(t *testing.T) (*bolt.DB, []feed.Channel, []feed.Source) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "b.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var items []feed.Item
	for n := 1; n <= 7; n++ {
		items = append(items, item("a", n, fmt.Sprintf("a%d", n)))
	}
	if _, err := db.SavePoll(context.Background(), "a", items, feed.SourceState{SourceID: "a"}); err != nil {
		t.Fatal(err)
	}
	return db, []feed.Channel{{ID: "news", Sources: []string{"a"}, Limit: 50}}, []feed.Source{{ID: "a"}}
}

func runIndex(t *testing.T, db *bolt.DB, channels []feed.Channel, sources []feed.Source, b Builds) *Index {
	t.Helper()
	ix := New(db, Options{PageSize: 3, Builds: b})
	if err := ix.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ix.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ix
}

// TestBuildHeldElsewhere: while another instance holds an index's build,
// this one writes nothing of it and answers ErrNotReady; once the other
// completes it, this one serves it without building it again.
func TestBuildHeldElsewhere(t *testing.T) {
	db, channels, sources := buildsFixture(t)
	k := Key(channels[0], sources, 3)
	builds := &fakeBuilds{}
	mine := runIndex(t, db, channels, sources, builds)
	mine.Kick()
	deadline := time.Now().Add(10 * time.Second)
	for {
		builds.mu.Lock()
		n := builds.holds
		builds.mu.Unlock()
		if n >= 2 {
			break // it asked, and asked again
		}
		if time.Now().After(deadline) {
			t.Fatal("the index never asked to hold the build")
		}
		mine.Kick()
		time.Sleep(20 * time.Millisecond)
	}
	if st, _, err := db.IndexState(context.Background(), k); err != nil || st.Count > 0 || st.Complete {
		t.Fatalf("the index was built (%+v, %v) while another instance held its build", st, err)
	}
	if _, err := mine.Newest(context.Background(), "news", 5); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Newest while the build is held elsewhere: %v, want ErrNotReady", err)
	}

	other := runIndex(t, db, channels, sources, nil) // the holder builds it
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := other.WaitCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mine.WaitCurrent(ctx); err != nil {
		t.Fatalf("this instance never served the index the other built: %v", err)
	}
	p, err := mine.Newest(context.Background(), "news", 10)
	if err != nil || len(p.Items) != 7 {
		t.Fatalf("Newest = %d items, %v; want the 7 the other instance's build holds", len(p.Items), err)
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if len(builds.released) != 0 {
		t.Errorf("released %v, a build it never held", builds.released)
	}
}

// TestBuildHeldHere: holding the build, the index builds it and releases
// the hold once it is complete.
func TestBuildHeldHere(t *testing.T) {
	db, channels, sources := buildsFixture(t)
	builds := &fakeBuilds{free: true}
	ix := runIndex(t, db, channels, sources, builds)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ix.WaitCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := ix.Newest(context.Background(), "news", 10); err != nil || len(p.Items) != 7 {
		t.Fatalf("Newest = %+v, %v", p, err)
	}
	k := Key(channels[0], sources, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		builds.mu.Lock()
		rel := append([]string(nil), builds.released...)
		builds.mu.Unlock()
		if len(rel) > 0 {
			if rel[0] != k {
				t.Errorf("released %v, want %s", rel, k)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the build was never released")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
