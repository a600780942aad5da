package fetch

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func entry(id, host string, order int, due time.Time, fresh bool) *runEntry {
	return &runEntry{src: feed.Source{ID: id}, host: host, due: due, fresh: fresh, order: order}
}

func ids(es ...*runEntry) []string {
	var out []string
	for _, e := range es {
		if e == nil {
			out = append(out, "-")
			continue
		}
		out = append(out, e.src.ID)
	}
	return out
}

// The queue starts never-polled entries first, then the earliest due, ties
// in source order; an entry whose host is busy waits for that host's poll
// and does not hold back the others.
func TestRunQueueOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	q := newRunQueue()
	q.add(entry("late", "a", 0, t0.Add(-time.Second), false))
	q.add(entry("early", "b", 1, t0.Add(-time.Minute), false))
	q.add(entry("fresh2", "c", 3, t0, true))
	q.add(entry("fresh1", "c", 2, t0, true))
	q.add(entry("tie2", "d", 5, t0.Add(-time.Minute), false))
	q.add(entry("future", "e", 4, t0.Add(time.Hour), false))

	var got []*runEntry
	for e := q.next(t0); e != nil; e = q.next(t0) {
		got = append(got, e)
	}
	// fresh2 shares host c with fresh1: parked until fresh1 is done.
	want := []string{"fresh1", "early", "tie2", "late"}
	if fmt.Sprint(ids(got...)) != fmt.Sprint(want) {
		t.Fatalf("started %v, want %v", ids(got...), want)
	}
	if w := q.wake(t0); !w.Equal(t0.Add(time.Hour)) {
		t.Errorf("wake %v, want the future entry's due %v", w, t0.Add(time.Hour))
	}
	q.done(got[0]) // fresh1's poll finished: fresh2 may go
	if e := q.next(t0); e == nil || e.src.ID != "fresh2" {
		t.Fatalf("after fresh1's poll, next is %v, want fresh2", ids(e))
	}
	if e := q.next(t0); e != nil {
		t.Fatalf("next is %v, want none (host c busy, the rest in flight or not due)", ids(e))
	}
	if e := q.next(t0.Add(time.Hour)); e == nil || e.src.ID != "future" {
		t.Fatalf("an hour later next is %v, want future", ids(e))
	}
}

// A host resting on another instance (hostWait) holds back its entries,
// fresh ones included, until the wait ends, and never the other hosts'.
func TestRunQueueHostWait(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	q := newRunQueue()
	q.hostWait["a"] = t0.Add(time.Second)
	q.add(entry("a-fresh", "a", 0, t0, true))
	q.add(entry("b-due", "b", 1, t0.Add(-time.Second), false))
	if e := q.next(t0); e == nil || e.src.ID != "b-due" {
		t.Fatalf("next is %v, want b-due (a-fresh's host rests)", ids(e))
	}
	if e := q.next(t0); e != nil {
		t.Fatalf("next is %v, want none", ids(e))
	}
	if w := q.wake(t0); !w.Equal(t0.Add(time.Second)) {
		t.Errorf("wake %v, want the host's wait %v", w, t0.Add(time.Second))
	}
	if e := q.next(t0.Add(time.Second)); e == nil || e.src.ID != "a-fresh" {
		t.Fatalf("after the wait next is %v, want a-fresh", ids(e))
	}
}

// Against the rule written as a scan over every entry (what Run did
// before the queue): the same entries start, in the same order, through
// random schedules with busy hosts.
func TestRunQueueMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for round := range 200 {
		n := 1 + rng.IntN(40)
		var all []*runEntry
		q := newRunQueue()
		for i := range n {
			e := entry(fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", rng.IntN(5)), i,
				t0.Add(time.Duration(rng.IntN(20)-10)*time.Second), rng.IntN(4) == 0)
			all = append(all, e)
			q.add(e)
		}
		busy := map[string]bool{}
		started := map[*runEntry]bool{}
		scan := func(now time.Time) *runEntry {
			var best *runEntry
			for _, e := range all {
				if started[e] || busy[e.host] || e.due.After(now) {
					continue
				}
				if best == nil || (e.fresh && !best.fresh) || (e.fresh == best.fresh && e.due.Before(best.due)) {
					best = e
				}
			}
			return best
		}
		now := t0
		var inflight []*runEntry
		for step := 0; step < 3*n; step++ {
			want := scan(now)
			got := q.next(now)
			if got != want {
				t.Fatalf("round %d step %d at %v: queue started %v, the scan %v", round, step, now.Sub(t0), ids(got), ids(want))
			}
			if got != nil {
				started[got] = true
				busy[got.host] = true
				inflight = append(inflight, got)
			}
			if len(inflight) > 0 && (got == nil || rng.IntN(2) == 0) {
				k := rng.IntN(len(inflight))
				e := inflight[k]
				inflight = append(inflight[:k], inflight[k+1:]...)
				busy[e.host] = false
				q.done(e)
			}
			now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
		}
	}
}
