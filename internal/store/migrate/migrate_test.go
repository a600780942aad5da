package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

var (
	bg  = context.Background()
	now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
)

func story(src, key, link, title string, hours int) feed.Item {
	pub := now.Add(-time.Duration(hours) * time.Hour)
	return feed.Item{SourceID: src, Key: key, ID: key, Link: link, Title: title, Summary: "<p>" + title + "</p>",
		Published: pub, Updated: pub, Dated: true}
}

// Filled writes into s a store with every kind of record: stories merged
// from two sources (an alias each), a story one source carries under a new
// key (a rekey alias), an upstream id two items share, pruned keys (and
// their deletions in the write order), WebSub subscriptions and subscriber
// statistics.
func Filled(t *testing.T, s store.Store) {
	t.Helper()
	state := func(src string) feed.SourceState {
		return feed.SourceState{SourceID: src, URL: "https://" + src + ".example/feed", ETag: `"1"`, LastStatus: 200, Title: src + " news"}
	}
	save := func(src string, items ...feed.Item) {
		t.Helper()
		if _, err := s.SavePoll(bg, src, items, state(src)); err != nil {
			t.Fatalf("SavePoll %s: %v", src, err)
		}
	}
	var agency []feed.Item
	for i := range 6 {
		agency = append(agency, story("agency", fmt.Sprintf("a%d", i), fmt.Sprintf("https://agency.example/%d", i), fmt.Sprintf("에이전시 기사 %d", i), 10-i))
	}
	save("agency", agency...)
	// The portal carries two agency stories under its own keys (same link,
	// same title): merged into the agency's.
	save("portal", story("portal", "p1", "https://agency.example/1", "에이전시 기사 1", 9),
		story("portal", "p2", "https://portal.example/2?utm_source=x", "에이전시 기사 2", 8),
		story("portal", "p9", "https://portal.example/9", "Portal only", 1))
	// The same upstream id on another item: shared.
	dup := story("portal", "p10", "https://portal.example/10", "Second with one id", 1)
	dup.ID = "p9"
	save("portal", dup)
	// The agency's story 5 under a new key: a rekey.
	save("agency", append(agency[:5:5], story("agency", "a5-new", agency[5].Link, agency[5].Title, 5))...)
	if _, err := s.Prune(bg, "agency", feed.Retention{Items: 3}, now); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []feed.Subscription{
		{Topic: "http://aggregator.test/feeds/all.atom", Callback: "https://reader.example/cb", Secret: "s", Lease: 24 * time.Hour,
			Expires: now.Add(24 * time.Hour), Created: now},
		{Topic: "http://aggregator.test/feeds/all.rss", Callback: "https://other.example/cb", Lease: time.Hour, Expires: now.Add(time.Hour), Created: now},
	} {
		if err := s.PutSubscription(bg, sub); err != nil {
			t.Fatal(err)
		}
	}
	sketch := hyperloglog.New14()
	for i := range uint64(50) {
		sketch.InsertHash(i * 0x9e3779b97f4a7c15)
	}
	sk, err := sketch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSubscriberParts(bg, []store.SubscriberPart{{Channel: "all", Day: "2026-11-29", Requests: 40, NotModified: 30, Clients: 3, Reported: 120},
		{Channel: "all", Day: "2026-11-30", Instance: "a", Requests: 7, Sketch: sk, Fetchers: map[uint64]int{1: 100, 1 << 63: 5}},
		{Channel: "all", Day: "2026-11-30", Instance: "b", Requests: 2, Sketch: sk, Fetchers: map[uint64]int{1: 120}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MailSecret(bg, bytes.Repeat([]byte("k"), 32)); err != nil {
		t.Fatal(err)
	}
	seoul := time.FixedZone("KST", 9*3600) // read back in UTC: the sums must not care
	for _, sub := range []store.Subscriber{
		{Channel: "the-peninsula", Address: "pending@example.org", State: store.Pending, Created: now, ConfirmSent: now},
		{Channel: "the-peninsula", Address: "reader@example.kr", State: store.Confirmed, Digest: "daily", Created: now.Add(-48 * time.Hour).In(seoul),
			Confirmed: now.Add(-47 * time.Hour), SentSeq: 3, LastPeriod: now.Add(-24 * time.Hour), LastSent: now.Add(-24 * time.Hour), Sends: 2,
			// A send claimed when the source stopped: the target makes it.
			Pending: &store.Send{After: 3, UpTo: 5, Period: now}, Owner: "host/1/x", Until: now.Add(time.Minute)},
		{Channel: "all", Address: "gone@example.org", State: store.Bounced, Created: now, Confirmed: now, Bounces: 3, LastError: "550 no such user"},
	} {
		if err := s.ImportSubscriber(bg, sub); err != nil {
			t.Fatalf("ImportSubscriber %s: %v", sub.Address, err)
		}
	}
}

func openBolt(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{Now: func() time.Time { return now }, TitleWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(bg, pgtest.Schema(t), postgres.Options{Now: func() time.Time { return now }, TitleWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBoltToPostgres: a bbolt store with every kind of record, migrated,
// sums the same in PostgreSQL, kind by kind; and the target decides the
// next poll as the source does.
func TestBoltToPostgres(t *testing.T) {
	from := openBolt(t)
	Filled(t, from)
	to := openPostgres(t)
	rep, err := Run(bg, from, to, nil)
	if err != nil {
		t.Fatalf("Run: %v\n%+v", err, rep)
	}
	for _, k := range rep.Kinds {
		if k.Source == 0 && k.Name != "deletions" {
			t.Errorf("%s: none in the source: the test store lacks a kind", k.Name)
		}
		t.Logf("%-22s %4d %4d %s", k.Name, k.Source, k.Target, k.SourceSum[:12])
	}
	// The subscriber statistics merge alike: their parts were copied.
	var merged [2][]feed.SubscriberDay
	for i, s := range []store.Store{from, to} {
		parts, err := s.SubscriberParts(bg, "", "")
		if err == nil {
			merged[i], err = store.MergeSubscriberParts(parts)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(merged[0]) != fmt.Sprint(merged[1]) || len(merged[1]) != 2 || merged[1][1].Reported != 125 || merged[1][1].Clients != 50 {
		t.Errorf("subscriber days: %+v in the source, %+v in the target", merged[0], merged[1])
	}
	// What the copy must decide alike: a re-poll of a pruned key, of a
	// merged copy, of the rekeyed story, and a new copy by title.
	next := []feed.Item{story("portal", "p1", "https://agency.example/1", "에이전시 기사 1", 9),
		story("portal", "p11", "https://portal.example/11", "에이전시 기사 4", 6)}
	for _, s := range []store.Store{from, to} {
		c, err := s.SavePoll(bg, "portal", next, feed.SourceState{SourceID: "portal", LastStatus: 200})
		if err != nil {
			t.Fatal(err)
		}
		pruned, err := s.SavePoll(bg, "agency", []feed.Item{story("agency", "a0", "https://agency.example/0", "에이전시 기사 0", 10)}, feed.SourceState{SourceID: "agency", LastStatus: 200})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%T: %+v, pruned %+v", s, c, pruned)
	}
	after, err := Compare(bg, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range after.Kinds {
		if !k.Match() && k.Name != "source states" { // the states' times are each store's clock: equal here
			t.Errorf("after the same poll on both, %s differ: %d vs %d", k.Name, k.Source, k.Target)
		}
	}
}

// TestMismatchCaught: a target that differs from the source (one more
// write) fails the comparison; a target that is not empty is refused.
func TestMismatchCaught(t *testing.T) {
	from := openBolt(t)
	Filled(t, from)
	to := openPostgres(t)
	if _, err := Run(bg, from, to, nil); err != nil {
		t.Fatal(err)
	}
	if err := to.SaveSubscriberParts(bg, []store.SubscriberPart{{Channel: "all", Day: "2026-11-30", Instance: "a", Requests: 8}}); err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(bg, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Errorf("a changed subscriber day went unnoticed: %+v", rep)
	}
	for _, k := range rep.Kinds {
		if got, want := k.Match(), k.Name != "subscriber days"; got != want {
			t.Errorf("%s: match %v, want %v", k.Name, got, want)
		}
	}
	// A subscriber's send log that moved on in the target is caught too.
	sub, err := to.Subscriber(bg, "the-peninsula", "reader@example.kr")
	if err != nil {
		t.Fatal(err)
	}
	sub.SentSeq, sub.Pending, sub.Owner = 5, nil, ""
	if err := to.ImportSubscriber(bg, sub); err != nil {
		t.Fatal(err)
	}
	if rep, err := Compare(bg, from, to, nil); err != nil || kindMatch(rep, "mailing lists") {
		t.Errorf("a subscriber's send log that differs went unnoticed: %+v, %v", rep, err)
	}
	if _, err := Run(bg, from, to, nil); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Run into a filled target: %v, want ErrNotEmpty", err)
	}
	if _, err := Run(bg, from, openBolt(t), nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Run into a bbolt file: %v, want ErrUnsupported", err)
	}
}

func kindMatch(rep Report, name string) bool {
	for _, k := range rep.Kinds {
		if k.Name == name {
			return k.Match()
		}
	}
	return false
}
