package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

var bg = context.Background()

var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func fixed() time.Time { return epoch }

// pair opens two stores on one fresh schema: two instances.
func pair(t *testing.T) (*DB, *DB) {
	t.Helper()
	u := pgtest.Schema(t)
	a, b := openURL(t, u, storetest.Options{Now: fixed}), openURL(t, u, storetest.Options{Now: fixed})
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func newsItem(src, key, link, title string, hours int) feed.Item {
	pub := epoch.Add(time.Duration(hours) * time.Hour)
	return feed.Item{SourceID: src, Key: key, ID: src + "-" + key, Link: link, Title: title, Published: pub, Updated: pub, Dated: true}
}

func state(src string) feed.SourceState {
	return feed.SourceState{SourceID: src, URL: "https://" + src + ".example/feed", LastStatus: 200}
}

// TestRevCommitOrder shows that the write order follows commits: a poll
// that took its Rev numbers and has not committed holds back every later
// writer, so that a follower that saw a number never misses a smaller one
// committed after it.
func TestRevCommitOrder(t *testing.T) {
	a, b := pair(t)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.beforeCommit = func(op string) {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	// A follower of the write order, as the search indexer is.
	stop := make(chan struct{})
	seen := map[string]uint64{}
	var follower sync.WaitGroup
	var followErr error
	follower.Go(func() {
		var last uint64
		for {
			// Stopped before this read: it sees every commit, and an empty
			// answer means the follower has caught up.
			stopped := false
			select {
			case <-stop:
				stopped = true
			default:
			}
			its, err := b.ItemsSince(bg, last, 100)
			if err != nil {
				followErr = err
				return
			}
			for _, it := range its {
				if it.Rev <= last {
					followErr = fmt.Errorf("rev %d after %d", it.Rev, last)
					return
				}
				last = it.Rev
				seen[it.SourceID+"/"+it.Key] = it.Rev
			}
			if stopped && len(its) == 0 {
				return
			}
		}
	})
	first := make(chan error, 1)
	go func() {
		_, err := a.SavePoll(bg, "early", []feed.Item{newsItem("early", "k1", "https://e/1", "early one", 1), newsItem("early", "k2", "https://e/2", "early two", 2)}, state("early"))
		first <- err
	}()
	<-held // early has its Revs and has not committed
	second := make(chan error, 1)
	go func() {
		_, err := b.SavePoll(bg, "late", []feed.Item{newsItem("late", "k1", "https://l/1", "late one", 3)}, state("late"))
		second <- err
	}()
	var secondErr error
	secondDone := false
	select {
	case secondErr = <-second:
		secondDone = true
		t.Errorf("a second writer committed (%v) while the first held its Revs uncommitted", secondErr)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !secondDone {
		secondErr = <-second
	}
	if secondErr != nil {
		t.Fatal(secondErr)
	}
	close(stop)
	follower.Wait()
	if followErr != nil {
		t.Fatal(followErr)
	}
	if len(seen) != 3 {
		t.Fatalf("the follower saw %v, want all three items", seen)
	}
	if seen["late/k1"] <= seen["early/k1"] || seen["late/k1"] <= seen["early/k2"] {
		t.Errorf("revs %v: the later commit has a smaller Rev", seen)
	}
	if last, err := b.LastRev(bg); err != nil || last != seen["late/k1"] {
		t.Errorf("LastRev = %d, %v; want %d", last, err, seen["late/k1"])
	}
}

// TestTwoInstancesOneStory saves the same stories from two sources through
// two instances at once: each story is stored once, carried by both.
func TestTwoInstancesOneStory(t *testing.T) {
	a, b := pair(t)
	const n = 20
	polls := func(src string) []feed.Item {
		its := make([]feed.Item, n)
		for i := range its {
			its[i] = newsItem(src, fmt.Sprintf("%s%02d", src, i), fmt.Sprintf("https://news.example/%d", i), fmt.Sprintf("headline %d", i), i)
		}
		return its
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*5)
	for round := range 5 {
		for _, w := range []struct {
			db  *DB
			src string
		}{{a, "x"}, {b, "y"}} {
			wg.Go(func() {
				_, err := w.db.SavePoll(bg, w.src, polls(w.src), state(w.src))
				if err != nil {
					err = fmt.Errorf("round %d %s: %w", round, w.src, err)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c, err := a.Count(bg); err != nil || c != n {
		t.Fatalf("Count = %d, %v; want %d stories", c, err, n)
	}
	its, err := b.ItemsAfter(bg, []string{"x", "y"}, nil, 100)
	if err != nil || len(its) != n {
		t.Fatalf("ItemsAfter = %d items, %v; want %d", len(its), err, n)
	}
	for _, it := range its {
		if len(it.Origins) != 1 {
			t.Errorf("story %s/%s has origins %+v, want the other source once", it.SourceID, it.Key, it.Origins)
		}
	}
	for _, src := range []string{"x", "y"} {
		if c, err := a.SourceItemCount(bg, src); err != nil || c != n {
			t.Errorf("SourceItemCount(%s) = %d, %v; want %d", src, c, err, n)
		}
	}
}

// TestNewerSchema refuses a database written by a newer aggregator.
func TestNewerSchema(t *testing.T) {
	u := pgtest.Schema(t)
	db := openURL(t, u, storetest.Options{})
	if _, err := db.pool.Exec(bg, `UPDATE schema_version SET version = $1`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(bg, u, Options{})
	if !errors.Is(err, store.ErrSchema) {
		t.Fatalf("Open of a newer schema: %v, want store.ErrSchema", err)
	}
	t.Log(err)
}

// TestOpenTogether opens several instances on an empty schema at once:
// the schema lock makes one of them create it.
func TestOpenTogether(t *testing.T) {
	u := pgtest.Schema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := Open(bg, u, Options{})
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestNewestQueryPlan checks that the newest N of a source and of an
// index are read through their indexes, not a scan and a sort.
func TestNewestQueryPlan(t *testing.T) {
	u := pgtest.Schema(t)
	db := openURL(t, u, storetest.Options{Now: fixed})
	defer db.Close()
	its := make([]feed.Item, 2000)
	for i := range its {
		its[i] = newsItem("big", fmt.Sprintf("k%05d", i), fmt.Sprintf("https://big.example/%d", i), fmt.Sprintf("story %d", i), i)
	}
	if _, err := db.SavePoll(bg, "big", its, state("big")); err != nil {
		t.Fatal(err)
	}
	plan := func(sql string, args ...any) string {
		rows, err := db.pool.Query(bg, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(lines)
	}
	seqs := make([]store.Member, len(its))
	stored, err := db.ItemsAfter(bg, []string{"big"}, nil, len(its))
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range stored {
		seqs[i] = store.Member{SourceID: it.SourceID, Key: it.Key, Seq: it.Seq, Sort: it.Sort(), Pin: -1}
	}
	if _, err := db.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: seqs, PageSize: 100, Now: epoch}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(bg, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{
		"ItemsAfter": plan(walkSQL, [][]byte{srcHash("big")}, false, int64(0), []byte(nil), []byte(nil), 50),
		"Newest":     plan(newestSQL(`($2::bytea IS NULL OR m.tk > $2)`, "ASC"), []byte("ch"), []byte(nil), 0, 50),
	} {
		for _, bad := range []string{"Seq Scan on items", "Seq Scan on positions", "Seq Scan on members"} {
			if strings.Contains(p, bad) {
				t.Errorf("%s scans a table (%s):\n%s", name, bad, p)
			}
		}
		if !strings.Contains(p, "positions_order") && !strings.Contains(p, "members_order") {
			t.Errorf("%s does not walk its order's index:\n%s", name, p)
		}
	}
}
