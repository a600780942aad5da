package membership

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestTwoFollowersOneStore: two instances' indexes follow the write order
// of one PostgreSQL store at once, while polls move a limited source's
// window and edits move stories in and out; once both are caught up the
// shared index holds what a build from scratch holds.
func TestTwoFollowersOneStore(t *testing.T) {
	u := pgtest.Schema(t)
	clk := &clock{now: t0.AddDate(0, 0, 30)}
	open := func() *postgres.DB {
		db, err := postgres.Open(context.Background(), u, postgres.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sources := []feed.Source{{ID: "a", Limit: 3}, {ID: "b"}}
	channels := []feed.Channel{{ID: "news", Sources: []string{"a", "b"}, Limit: 50, Curation: feed.Curation{Exclude: rules("광고")}}}
	run := func(db *postgres.DB, pageSize int) (*Index, func()) {
		ix := New(db, Options{PageSize: pageSize, Now: clk.Now})
		if err := ix.Configure(context.Background(), channels, sources); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ix.Run(ctx); close(done) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return ix, sync.OnceFunc(stop)
	}
	dbs := []*postgres.DB{open(), open()}
	ix1, stop1 := run(dbs[0], 3)
	ix2, stop2 := run(dbs[1], 3)
	ixs := []*Index{ix1, ix2}

	// Each round: a new story of a (its window moves), and an edit of an
	// older story of a or b into or out of the exclusion.
	var stories = map[string][]feed.Item{}
	for i := range 120 {
		src := []string{"a", "b"}[i%2]
		n := len(stories[src]) + 1
		stories[src] = append(stories[src], item(src, n, fmt.Sprintf("%s%d", src, n)))
		if n > 2 {
			old := &stories[src][(i*7)%(n-1)]
			if slices.Contains([]byte(old.Title), 0xea) {
				old.Title = old.Title[:len(old.Title)-len(" 광고")]
			} else {
				old.Title += " 광고"
			}
		}
		db := dbs[i%3%2]
		if _, err := db.SavePoll(context.Background(), src, stories[src], feed.SourceState{SourceID: src}); err != nil {
			t.Fatal(err)
		}
		for _, ix := range ixs {
			ix.Kick()
		}
	}
	wait := func(ix *Index) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer wcancel()
		if err := ix.WaitCurrent(wctx); err != nil {
			t.Fatalf("index never caught up: %v", err)
		}
	}
	for _, ix := range ixs {
		wait(ix)
	}
	members := func(pageSize int) []string {
		k := Key(channels[0], sources, pageSize)
		ms, _, err := dbs[0].Newest(context.Background(), k, nil, 0, 1000, false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s/%d", m.SourceID, m.Seq))
		}
		return out
	}
	followed := members(3)
	stop1() // each would drop the index of another config
	stop2()
	fresh, _ := run(dbs[0], 4) // another page size: another index, built now (it drops the first)
	wait(fresh)

	if got, want := followed, members(4); !slices.Equal(got, want) {
		t.Errorf("followed index holds\n%q\na build from scratch holds\n%q", got, want)
	}
}

// heldStore holds the first index update that adds or deletes members
// until released: the follower of a slower instance.
type heldStore struct {
	Store
	once     sync.Once
	held     chan struct{} // closed when the update is held
	released chan struct{} // closed by the test
	// landed is closed once the held update was written (or skipped).
	landed     chan struct{}
	landedOnce sync.Once
}

func (h *heldStore) UpdateIndexes(ctx context.Context, u map[string]store.IndexUpdate) (map[string]store.IndexState, error) {
	for _, x := range u {
		if len(x.Put) > 0 || len(x.Delete) > 0 {
			h.once.Do(func() {
				close(h.held)
				<-h.released
			})
		}
	}
	sts, err := h.Store.UpdateIndexes(ctx, u)
	if h.landed != nil && ctx.Err() == nil {
		h.landedOnce.Do(func() { close(h.landed) })
	}
	return sts, err
}

// TestStaleFollowerSkipped: two followers of one store's write order (two
// instances); one computes an update, is held, and lands it only after
// the other applied a later write that undoes it. The late update is
// skipped: the index holds what the later write says.
func TestStaleFollowerSkipped(t *testing.T) {
	e := newEnv(t)
	sources := []feed.Source{{ID: "b"}}
	channels := []feed.Channel{{ID: "news", Sources: []string{"b"}, Limit: 10, Curation: feed.Curation{Exclude: rules("광고")}}}
	e.save("b", item("b", 1, "b1"))
	e.configure(channels, sources)
	e.settle()

	slow := &heldStore{Store: e.db, held: make(chan struct{}), released: make(chan struct{}), landed: make(chan struct{})}
	ix2 := New(slow, Options{PageSize: 3, Now: e.clk.Now})
	if err := ix2.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ix2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(slow.released) }) }
	defer release()

	b2 := item("b", 2, "b2")
	// A new member, seen first by the second follower alone: had the
	// first applied it already, the second would find it a member and
	// have nothing to write (the test raced on that: 3 failures in 30
	// runs under -race).
	if _, err := e.db.SavePoll(context.Background(), "b", []feed.Item{item("b", 1, "b1"), b2}, feed.SourceState{SourceID: "b"}); err != nil {
		t.Fatal(err)
	}
	ix2.Kick()
	select {
	case <-slow.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the second follower never wrote its update")
	}
	b2.Title = "b2 광고" // the edit that takes it out again
	e.save("b", item("b", 1, "b1"), b2)
	e.settle() // the first follower applied both writes
	release()
	select {
	case <-slow.landed:
	case <-time.After(10 * time.Second):
		t.Fatal("the held update never returned")
	}
	e.ix.Kick()
	ix2.Kick()
	e.settle()
	k := Key(channels[0], sources, 3)
	st, _, err := e.db.IndexState(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := e.db.Newest(context.Background(), k, nil, 0, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.Key)
	}
	if want := []string{item("b", 1, "").Key}; !slices.Equal(keys, want) {
		t.Errorf("index members = %q (state %+v), want only b1 %q: the held update landed after the later one", keys, st, want)
	}
}
