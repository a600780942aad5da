package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestSubscribersInstances: two instances behind a load balancer, each
// with its own Subscribers, flush to one store. The day is what both saw:
// requests added, the client that reached both counted once, a fetcher's
// largest report over both (Feedly said 100 to one and 120 to the other:
// 120). Before parts, the last instance to flush replaced the day: 2
// requests, 1 client, 120. Both instances show the merged day, and a
// restart starts a new part instead of adding to the stored counts again.
func TestSubscribersInstances(t *testing.T) {
	t.Run("bolt", func(t *testing.T) {
		db := openStatsDB(t)
		testInstances(t, db, db)
	})
	t.Run("postgres", func(t *testing.T) { // two handles, as two processes have
		u := pgtest.Schema(t)
		var handles [2]*postgres.DB
		for i := range handles {
			db, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			handles[i] = db
		}
		testInstances(t, handles[0], handles[1])
	})
}

func openStatsDB(t *testing.T) *bolt.DB {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testInstances(t *testing.T, st1, st2 SubscriberStore) {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	one := NewSubscribers(st1, now, "host-1/10/a")
	two := NewSubscribers(st2, now, "host-2/10/b")
	for _, s := range []*Subscribers{one, two} {
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	one.Record("news", 200, newRequest("10.0.0.1:1", "Mozilla/5.0"))
	one.Record("news", 304, newRequest("10.0.0.2:1", "NetNewsWire"))
	one.Record("news", 200, newRequest("192.0.2.9:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 100 subscribers; )"))
	two.Record("news", 200, newRequest("10.0.0.1:2", "Mozilla/5.0")) // the same client, another port
	two.Record("news", 200, newRequest("192.0.2.9:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 120 subscribers; )"))
	two.Record("news", 200, newRequest("192.0.2.10:1", "Inoreader/1.0 (45 subscribers)"))
	for _, s := range []*Subscribers{one, two, one} { // one flushes again last: it must not replace two's counts
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := feed.SubscriberDay{Channel: "news", Day: "2026-12-02", Requests: 6, NotModified: 1, Clients: 2, Reported: 120 + 45}
	for i, s := range []*Subscribers{one, two} {
		if got := s.Today(); len(got) != 1 || got[0] != want {
			t.Errorf("instance %d: Today = %+v, want %+v", i+1, got, want)
		}
		if got, err := s.History(ctx, "2026-12-01", ""); err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("instance %d: History = %+v, %v; want %+v", i+1, got, err, want)
		}
	}

	// Instance one restarts (a new id, as app gives each run) and counts
	// one more request: the day grows by that one, not by one's counts
	// again.
	again := NewSubscribers(st1, now, "host-1/11/c")
	if err := again.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := again.Today(); len(got) != 1 || got[0] != want {
		t.Errorf("after a restart: Today = %+v, want %+v", got, want)
	}
	again.Record("news", 200, newRequest("10.0.0.3:1", "Mozilla/5.0"))
	for range 2 {
		if err := again.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want.Requests, want.Clients = 7, 3
	if got, err := again.History(ctx, "", ""); err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("after a restart: History = %+v, %v; want %+v", got, err, want)
	}
	if err := two.Flush(ctx); err != nil { // two re-reads the others
		t.Fatal(err)
	}
	if got := two.Today(); len(got) != 1 || got[0] != want {
		t.Errorf("instance 2 after one's restart: Today = %+v, want %+v", got, want)
	}
}

// TestSubscribersSettle: a week on, a flush settles the day: its three
// parts become one settled part (no sketch) with the same counts, and
// days of today and yesterday keep their parts.
func TestSubscribersSettle(t *testing.T) {
	ctx := context.Background()
	db := openStatsDB(t)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	for i := range 3 {
		s := NewSubscribers(db, now, fmt.Sprint("instance-", i))
		for j := range 10 {
			s.Record("news", 200, newRequest(fmt.Sprintf("10.0.%d.%d:1", i%2, j), "Mozilla/5.0"))
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []feed.SubscriberDay{{Channel: "news", Day: "2026-12-02", Requests: 30, Clients: 20}}
	parts := func() []store.SubscriberPart {
		ps, err := db.SubscriberParts(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if ps := parts(); len(ps) != 3 {
		t.Fatalf("parts before settling: %d, want 3", len(ps))
	}
	at = at.AddDate(0, 0, 1) // tomorrow: yesterday is still written, not settled
	later := NewSubscribers(db, now, "later")
	if err := later.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ps := parts(); len(ps) != 3 {
		t.Fatalf("parts of yesterday after a flush: %d, want 3 (not settled)", len(ps))
	}
	at = at.AddDate(0, 0, 2)
	if err := later.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ps := parts()
	if len(ps) != 1 || ps[0].Instance != "" || ps[0].Sketch != nil {
		t.Fatalf("parts after settling: %+v, want one settled part", ps)
	}
	if got, err := later.History(ctx, "", ""); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("settled History = %+v, %v; want %+v", got, err, want)
	}
}

// TestSubscribersDamagedPart: another instance's part whose sketch does
// not decode (damaged bytes in the store) neither stops the start (Load)
// nor panics: its clients are left out, its other counts stand, and Flush
// says which part it was after doing the rest.
func TestSubscribersDamagedPart(t *testing.T) {
	ctx := context.Background()
	db := openStatsDB(t)
	now := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	damaged := store.SubscriberPart{Channel: "news", Day: "2026-12-02", Instance: "broken", Requests: 5,
		Sketch: []byte{2, 14, 0, 1, 0, 0, 0, 9, 0xff}, Fetchers: map[uint64]int{7: 30}}
	if err := db.SaveSubscriberParts(ctx, []store.SubscriberPart{damaged}); err != nil {
		t.Fatal(err)
	}
	s := NewSubscribers(db, now, "ok")
	if err := s.Load(ctx); err != nil {
		t.Fatalf("Load with a damaged part: %v", err)
	}
	s.Record("news", 200, newRequest("10.0.0.1:1", "Mozilla/5.0"))
	want := feed.SubscriberDay{Channel: "news", Day: "2026-12-02", Requests: 6, Clients: 1, Reported: 30}
	if got := s.Today(); len(got) != 1 || got[0] != want {
		t.Errorf("Today = %+v, want %+v", got, want)
	}
	if err := s.Flush(ctx); err == nil || !strings.Contains(err.Error(), "news 2026-12-02 broken") {
		t.Errorf("Flush: %v, want an error naming the damaged part", err)
	}
	if got, err := s.History(ctx, "", ""); err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("History = %+v, %v; want %+v", got, err, want)
	}
	if ps, _ := db.SubscriberParts(ctx, "", ""); len(ps) != 2 {
		t.Errorf("the flush did not write its part: %+v", ps)
	}
}

// BenchmarkSubscribersToday: what a metrics scrape costs with 100
// channels, each with 20,000 clients here and two other instances' parts
// (dense sketches all).
func BenchmarkSubscribersToday(b *testing.B) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	var subs []*Subscribers
	for i := range 3 {
		s := NewSubscribers(db, now, fmt.Sprint("instance-", i))
		for ch := range 100 {
			for j := range 20000 {
				s.Record(fmt.Sprint("channel-", ch), 200, newRequest(fmt.Sprintf("10.%d.%d.%d:1", i, j/250, j%250), "Mozilla/5.0"))
			}
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
	}
	if err := subs[0].Flush(ctx); err != nil { // reads the others'
		b.Fatal(err)
	}
	if got := subs[0].Today(); len(got) != 100 || got[0].Clients < 59000 || got[0].Clients > 61000 {
		b.Fatalf("Today = %+v", got[:1])
	}
	b.ResetTimer()
	for b.Loop() {
		subs[0].Today()
	}
}
