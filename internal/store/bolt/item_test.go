package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// day returns midnight UTC n days after 2025-01-01.
func day(n int) time.Time { return epoch.AddDate(0, 0, n) }

// newItem returns a dated item published (and updated) at pub, or an
// undated one when pub is zero.
func newItem(key, title string, pub time.Time) feed.Item {
	return feed.Item{
		Key:       key,
		Link:      "https://example.com/" + key,
		Title:     title,
		Summary:   "<p>" + title + "</p>",
		Authors:   []feed.Person{{Name: "기자", Email: "desk@example.com"}},
		Published: pub,
		Updated:   pub,
		Dated:     !pub.IsZero(),
	}
}

func state(id string) feed.SourceState {
	return feed.SourceState{SourceID: id, URL: "https://example.com/" + id + ".xml", ETag: `"v1"`}
}

// manyItems returns n dated items of source id, an hour apart after start,
// with a realistic amount of text.
func manyItems(id string, n int, start time.Time) []feed.Item {
	body := strings.Repeat("한반도 뉴스 본문 text of a story. ", 20)
	items := make([]feed.Item, n)
	for i := range items {
		it := newItem(fmt.Sprintf("id:%s/%06d", id, i), fmt.Sprintf("Story %d of %s", i, id), start.Add(time.Duration(i)*time.Hour))
		it.SourceID = id
		it.Content = "<p>" + body + "</p>"
		items[i] = it
	}
	return items
}

// rawItem returns a copy of the stored bytes of an item, nil when absent.
func rawItem(t *testing.T, db *DB, sourceID, key string) []byte {
	t.Helper()
	var out []byte
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketItems).Bucket([]byte(sourceID)); b != nil {
			out = bytes.Clone(b.Get([]byte(key)))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// indexLen returns the number of bytime entries of a source.
func indexLen(t *testing.T, db *DB, sourceID string) int {
	t.Helper()
	n := 0
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketByTime).Bucket([]byte(sourceID)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSave(t *testing.T, db *DB, id string, items ...feed.Item) feed.PollCounts {
	t.Helper()
	c, err := db.SavePoll(ctx, id, items, state(id))
	if err != nil {
		t.Fatalf("SavePoll(%s): %v", id, err)
	}
	return c
}

func mustItem(t *testing.T, db *DB, id, key string) feed.Item {
	t.Helper()
	it, err := db.Item(ctx, id, key)
	if err != nil {
		t.Fatalf("Item(%s, %s): %v", id, key, err)
	}
	return it
}

func TestSavePollCounts(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})

	a, b := newItem("a", "A", day(1)), newItem("b", "B", day(2))
	if got, want := mustSave(t, db, "src", a, b), (feed.PollCounts{New: 2}); got != want {
		t.Errorf("first poll counts = %+v, want %+v", got, want)
	}

	clk.Advance(time.Hour)
	b2 := b
	b2.Title = "B, corrected"
	c := newItem("c", "C", day(3))
	if got, want := mustSave(t, db, "src", a, b2, c), (feed.PollCounts{New: 1, Updated: 1, Unchanged: 1}); got != want {
		t.Errorf("second poll counts = %+v, want %+v", got, want)
	}
	if got, want := mustSave(t, db, "src", a, b2, c), (feed.PollCounts{Unchanged: 3}); got != want {
		t.Errorf("repeated poll counts = %+v, want %+v", got, want)
	}
	// An item that left the feed stays stored.
	if got, want := mustSave(t, db, "src", c), (feed.PollCounts{Unchanged: 1}); got != want {
		t.Errorf("shrunk poll counts = %+v, want %+v", got, want)
	}

	st, err := db.State(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Items, 3; got != want {
		t.Errorf("state.Items = %d, want %d", got, want)
	}
	if n, err := db.SourceItemCount(ctx, "src"); err != nil || n != 3 {
		t.Errorf("SourceItemCount = %d, %v; want 3, nil", n, err)
	}
	if got, want := indexLen(t, db, "src"), 3; got != want {
		t.Errorf("index entries = %d, want %d", got, want)
	}
	other := newItem("a", "other A", day(1)) // same key, another story
	other.Link = "https://example.org/other/a"
	mustSave(t, db, "other", other)
	if n, err := db.Count(ctx); err != nil || n != 4 {
		t.Errorf("Count = %d, %v; want 4, nil", n, err)
	}
	if n, err := db.SourceItemCount(ctx, "never"); err != nil || n != 0 {
		t.Errorf("SourceItemCount(never) = %d, %v; want 0, nil", n, err)
	}
}

func TestSavePollDuplicateKeyInOnePoll(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	a := newItem("a", "A", day(1))
	a2 := a
	a2.Title = "A again"
	if got, want := mustSave(t, db, "src", a, a2), (feed.PollCounts{New: 1, Updated: 1}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if got := mustItem(t, db, "src", "a").Title; got != "A again" {
		t.Errorf("title = %q, want the later occurrence", got)
	}
	if n, _ := db.SourceItemCount(ctx, "src"); n != 1 {
		t.Errorf("SourceItemCount = %d, want 1", n)
	}
}

func TestSavePollNewItemDates(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	now := clk.Now()

	noUpdated := newItem("no-updated", "x", day(1))
	noUpdated.Updated = time.Time{}
	early := newItem("updated-before-published", "x", day(5))
	early.Updated = day(4)
	later := newItem("updated-later", "x", day(5))
	later.Updated = day(6)
	mustSave(t, db, "src", noUpdated, early, later)

	tests := []struct {
		key                string
		published, updated time.Time
	}{
		{"no-updated", day(1), day(1)},
		{"updated-before-published", day(5), day(5)},
		{"updated-later", day(5), day(6)},
	}
	for _, tt := range tests {
		it := mustItem(t, db, "src", tt.key)
		if !it.Published.Equal(tt.published) || !it.Updated.Equal(tt.updated) || !it.FirstSeen.Equal(now) {
			t.Errorf("%s: published %v updated %v first seen %v; want %v, %v, %v",
				tt.key, it.Published, it.Updated, it.FirstSeen, tt.published, tt.updated, now)
		}
		if !it.Dated || it.SourceID != "src" || it.Key != tt.key {
			t.Errorf("%s: Dated=%v SourceID=%q Key=%q", tt.key, it.Dated, it.SourceID, it.Key)
		}
	}
}

func TestSavePollUpdateKeepsFirstSeenAndPublished(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	firstSeen := clk.Now()
	orig := newItem("k", "Title", day(10))
	mustSave(t, db, "src", orig)
	before := rawItem(t, db, "src", "k")

	t.Run("updated date bump alone changes nothing", func(t *testing.T) {
		clk.Advance(time.Hour)
		bumped := orig
		bumped.Updated = day(11)
		bumped.Published = day(9) // a feed restating its date is not a change either
		if got, want := mustSave(t, db, "src", bumped), (feed.PollCounts{Unchanged: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
		if got := rawItem(t, db, "src", "k"); !bytes.Equal(got, before) {
			t.Errorf("stored bytes changed:\n got %s\nwant %s", got, before)
		}
	})

	t.Run("content change with a later updated date", func(t *testing.T) {
		clk.Advance(time.Hour)
		changed := orig
		changed.Title = "Title, corrected"
		changed.Published = day(12)
		changed.Updated = day(12)
		if got, want := mustSave(t, db, "src", changed), (feed.PollCounts{Updated: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
		it := mustItem(t, db, "src", "k")
		if it.Title != "Title, corrected" {
			t.Errorf("title = %q, not replaced", it.Title)
		}
		if !it.FirstSeen.Equal(firstSeen) || !it.Published.Equal(day(10)) || !it.Dated {
			t.Errorf("first seen %v published %v dated %v; want kept %v, %v, true", it.FirstSeen, it.Published, it.Dated, firstSeen, day(10))
		}
		if !it.Updated.Equal(day(12)) {
			t.Errorf("updated = %v, want the feed's %v", it.Updated, day(12))
		}
	})

	t.Run("content change without a later updated date", func(t *testing.T) {
		now := clk.Advance(time.Hour)
		changed := orig
		changed.Title = "Title, corrected twice"
		changed.Updated = day(10) // older than the stored day(12)
		if got, want := mustSave(t, db, "src", changed), (feed.PollCounts{Updated: 1}); got != want {
			t.Errorf("counts = %+v, want %+v", got, want)
		}
		it := mustItem(t, db, "src", "k")
		if !it.Updated.Equal(now) {
			t.Errorf("updated = %v, want now %v", it.Updated, now)
		}
		if !it.FirstSeen.Equal(firstSeen) || !it.Published.Equal(day(10)) {
			t.Errorf("first seen %v published %v; want kept %v, %v", it.FirstSeen, it.Published, firstSeen, day(10))
		}
	})
	if got, want := indexLen(t, db, "src"), 1; got != want {
		t.Errorf("index entries = %d, want %d", got, want)
	}
}

func TestSavePollUndatedStable(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	t0 := clk.Now()
	undated := newItem("u", "Undated", time.Time{})
	mustSave(t, db, "src", undated)

	check := func(when string, wantUpdated time.Time) {
		t.Helper()
		it := mustItem(t, db, "src", "u")
		if !it.Published.Equal(t0) || !it.FirstSeen.Equal(t0) || it.Dated {
			t.Errorf("%s: published %v first seen %v dated %v; want %v, %v, false", when, it.Published, it.FirstSeen, it.Dated, t0, t0)
		}
		if !it.Updated.Equal(wantUpdated) {
			t.Errorf("%s: updated %v, want %v", when, it.Updated, wantUpdated)
		}
	}
	check("first poll", t0)

	clk.Advance(24 * time.Hour)
	if got, want := mustSave(t, db, "src", undated), (feed.PollCounts{Unchanged: 1}); got != want {
		t.Errorf("re-poll counts = %+v, want %+v", got, want)
	}
	check("re-poll", t0)

	// Even a parser that stamps undated items with the fetch time does not
	// move them.
	stamped := undated
	stamped.Published = clk.Now()
	mustSave(t, db, "src", stamped)
	check("re-poll with a stamped date", t0)

	t2 := clk.Advance(time.Hour)
	edited := undated
	edited.Summary = "<p>edited</p>"
	mustSave(t, db, "src", edited)
	check("after an edit", t2)
}

func TestSavePollInvalid(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name   string
		source string
		items  []feed.Item
		state  feed.SourceState
	}{
		{"empty source id", "", nil, feed.SourceState{}},
		{"state of another source", "a", nil, state("b")},
		{"item of another source", "a", []feed.Item{{SourceID: "b", Key: "k"}}, state("a")},
		{"empty key", "a", []feed.Item{{Title: "no key"}}, state("a")},
		{"key too long", "a", []feed.Item{{Key: strings.Repeat("x", bbolt.MaxKeySize)}}, state("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.SavePoll(ctx, tt.source, tt.items, tt.state)
			if got, want := feed.ErrorCode(err), feed.EINVALID; got != want {
				t.Errorf("error %v: code %q, want %q", err, got, want)
			}
		})
	}
	if n, _ := db.Count(ctx); n != 0 {
		t.Errorf("Count = %d after invalid polls, want 0", n)
	}
	if _, err := db.State(ctx, "a"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Errorf("State(a) after invalid polls: %v, want not found", err)
	}
}

func TestSavePollAbsurdDates(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	far := newItem("far", "year 12000", time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC))
	ancient := newItem("ancient", "year 1200", time.Date(1200, 1, 1, 0, 0, 0, 0, time.UTC))
	if got, want := mustSave(t, db, "src", far, ancient), (feed.PollCounts{New: 2}); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	if got := mustItem(t, db, "src", "far").Published.Year(); got != 9999 {
		t.Errorf("year 12000 stored as year %d, want clamped to 9999", got)
	}
	items, err := itemsOf(db, []string{"src"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(items), []string{"far", "ancient"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func keys(items []feed.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

func TestItemsOrder(t *testing.T) {
	clk := newClock() // 2025-03-01 09:00
	db := openTest(t, Options{Now: clk.Now})
	at := func(h int) time.Time { return day(0).Add(time.Duration(h) * time.Hour) }

	// Saved in an order unlike the result, with ties across and within
	// sources, dates before 1970, and an undated item (sorted by when it
	// was first seen, here the clock's 2025-03-01).
	mustSave(t, db, "bravo",
		newItem("b-3", "", at(0)),
		newItem("b-1", "", at(4)),
		newItem("b-2", "", at(3)),
		newItem("b-old", "", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)),
	)
	mustSave(t, db, "alpha",
		newItem("a-1", "", at(5)),
		newItem("a-3", "", at(1)),
		newItem("a-2", "", at(3)),
		newItem("a-older", "", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)),
	)
	mustSave(t, db, "charlie",
		newItem("c-z", "", at(3)),
		newItem("c-a", "", at(3)),
		newItem("c-1", "", at(5)),
		newItem("c-undated", "", time.Time{}),
	)
	all := []string{"c-undated", "a-1", "c-1", "b-1", "a-2", "b-2", "c-a", "c-z", "a-3", "b-3", "b-old", "a-older"}

	tests := []struct {
		name    string
		sources []string
		limit   int
		want    []string
	}{
		{"all", []string{"alpha", "bravo", "charlie"}, 100, all},
		{"limit", []string{"charlie", "alpha", "bravo"}, 5, all[:5]},
		{"limit one", []string{"alpha", "bravo", "charlie"}, 1, all[:1]},
		{"unknown and repeated ids ignored", []string{"nope", "bravo", "alpha", "bravo", "charlie", ""}, 100, all},
		{"one source", []string{"alpha"}, 100, []string{"a-1", "a-2", "a-3", "a-older"}},
		{"two sources", []string{"bravo", "charlie"}, 4, []string{"c-undated", "c-1", "b-1", "b-2"}},
		{"only unknown", []string{"nope"}, 10, nil},
		{"no sources", nil, 10, nil},
		{"zero limit", []string{"alpha"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := itemsOf(db, tt.sources, tt.limit)
			if err != nil {
				t.Fatalf("Items: %v", err)
			}
			if got := keys(items); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %v\n          want %v", got, tt.want)
			}
			for _, it := range items {
				if it.SourceID == "" || it.Title == "" && it.Link == "" {
					t.Errorf("item %q came back without its fields: %+v", it.Key, it)
				}
			}
		})
	}
}

func TestItemsEmptyStore(t *testing.T) {
	db := openTest(t, Options{})
	items, err := itemsOf(db, []string{"a", "b"}, 50)
	if err != nil || len(items) != 0 {
		t.Errorf("Items on empty store = %v, %v; want none, nil", items, err)
	}
	if n, err := db.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0, nil", n, err)
	}
}

func TestItemRoundTrip(t *testing.T) {
	clk := newClock()
	db := openTest(t, Options{Now: clk.Now})
	seoul := time.FixedZone("KST", 9*3600)
	in := feed.Item{
		SourceID: "src", Key: "id:urn:1", ID: "urn:1", IDIsPermaLink: true,
		Link: "https://example.kr/1", Title: "제목", Summary: "<p>요약</p>", Content: "<p>본문</p>",
		Authors:    []feed.Person{{Name: "A", Email: "a@example.kr", URI: "https://example.kr/a"}},
		Categories: []feed.Category{{Term: "t", Scheme: "s", Label: "l"}},
		Enclosures: []feed.Enclosure{{URL: "https://example.kr/a.mp3", Type: "audio/mpeg", Length: 123}},
		Language:   "ko",
		Published:  time.Date(2025, 2, 3, 4, 5, 6, 7, seoul),
		Updated:    time.Date(2025, 2, 4, 4, 5, 6, 7, seoul),
		Dated:      true,
	}
	mustSave(t, db, "src", in)
	got := mustItem(t, db, "src", in.Key)
	want := in
	want.FirstSeen = clk.Now()
	if !feed.SameContent(got, want) || got.ID != want.ID || got.IDIsPermaLink != want.IDIsPermaLink ||
		got.SourceID != want.SourceID || got.Key != want.Key || got.Dated != want.Dated ||
		!got.Published.Equal(want.Published) || !got.Updated.Equal(want.Updated) || !got.FirstSeen.Equal(want.FirstSeen) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, off := got.Published.Zone(); off != 9*3600 {
		t.Errorf("published offset %d, want the feed's +09:00 kept", off)
	}

	_, err := db.Item(ctx, "src", "id:missing")
	if got, want := feed.ErrorCode(err), feed.ENOTFOUND; got != want {
		t.Errorf("missing item: %v, code %q, want %q", err, got, want)
	}
	_, err = db.Item(ctx, "nosuch", "id:urn:1")
	if got, want := feed.ErrorCode(err), feed.ENOTFOUND; got != want {
		t.Errorf("missing source: %v, code %q, want %q", err, got, want)
	}
}

// TestConcurrentReadersAndWriter is meant for -race: readers see whole
// polls and a sorted result while a writer adds polls.
func TestConcurrentReadersAndWriter(t *testing.T) {
	db := openTest(t, Options{})
	sources := []string{"s0", "s1", "s2"}
	const polls = 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)

	wg.Go(func() {
		defer close(done)
		for p := range polls {
			id := sources[p%len(sources)]
			items := manyItems(id, 10, day(p))
			for i := range items {
				items[i].Key = fmt.Sprintf("p%02d-%02d", p, i)
				items[i].Link = "https://example.com/" + items[i].Key
			}
			if _, err := db.SavePoll(ctx, id, items, state(id)); err != nil {
				errs <- err
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				items, err := itemsOf(db, sources, 1000)
				if err != nil {
					errs <- err
					return
				}
				if len(items)%10 != 0 || len(items) < last {
					errs <- fmt.Errorf("saw %d items after %d: a poll seen in part", len(items), last)
					return
				}
				last = len(items)
				if !slices.IsSortedFunc(items, func(a, b feed.Item) int { return b.Sort().Compare(a.Sort()) }) {
					errs <- errors.New("items not newest first")
					return
				}
				if _, err := db.States(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := db.Count(ctx); err != nil || n != polls*10 {
		t.Errorf("Count = %d, %v; want %d", n, err, polls*10)
	}
}

func BenchmarkSavePoll(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		db := openTest(b, Options{})
		items := manyItems("src", 50, day(0))
		n := 0
		for b.Loop() {
			for i := range items {
				items[i].Key = fmt.Sprintf("id:%d", n)
				items[i].Link = "https://example.com/" + items[i].Key
				n++
			}
			if _, err := db.SavePoll(ctx, "src", items, state("src")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		db := openTest(b, Options{})
		items := manyItems("src", 50, day(0))
		if _, err := db.SavePoll(ctx, "src", items, state("src")); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			c, err := db.SavePoll(ctx, "src", items, state("src"))
			if err != nil || c.Unchanged != 50 {
				b.Fatal(c, err)
			}
		}
	})
}

func BenchmarkItems(b *testing.B) {
	const sources, perSource = 100, 1000 // 100k items, one Update per source
	db := openTest(b, Options{})
	ids := make([]string, sources)
	for s := range sources {
		ids[s] = fmt.Sprintf("source-%03d", s)
		// Interleave the sources' dates so the merge has work to do.
		items := manyItems(ids[s], perSource, day(0).Add(time.Duration(s)*time.Minute))
		if _, err := db.SavePoll(ctx, ids[s], items, state(ids[s])); err != nil {
			b.Fatal(err)
		}
	}
	query := ids[:10]
	for b.Loop() {
		items, err := itemsOf(db, query, 50)
		if err != nil || len(items) != 50 {
			b.Fatal(len(items), err)
		}
	}
}

// TestPreparedRecordsAreTheTransactions: the records of new items, encoded
// before the poll's transaction, are byte for byte what encoding the
// stored items in it makes: undated items (dated by FirstSeen), an ID
// another source already claimed (IDShared), a key seen before.
func TestPreparedRecordsAreTheTransactions(t *testing.T) {
	db := openTest(t, Options{Now: func() time.Time { return day(9) }})
	shared := newItem("s1", "A shared id", day(1))
	shared.ID = "urn:shared"
	if _, err := db.SavePoll(ctx, "other", []feed.Item{shared}, state("other")); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("<p>남북 관계, relations between the two Koreas.</p>", 20)
	items := []feed.Item{newItem("k1", "Dated", day(2)), newItem("k2", "Undated", time.Time{}), newItem("k3", "Shared", day(3))}
	items[2].ID = "urn:shared"
	items[2].Link = "https://example.com/elsewhere"
	for i := range items {
		items[i].Content = body
	}
	if _, err := db.SavePoll(ctx, "a", items[:1], state("a")); err != nil {
		t.Fatal(err)
	}
	items[0].Title = "Dated, edited"
	if _, err := db.SavePoll(ctx, "a", items, state("a")); err != nil {
		t.Fatal(err)
	}
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		ib := tx.Bucket(bucketItems).Bucket([]byte("a"))
		for _, it := range items {
			raw := ib.Get([]byte(it.Key))
			got, err := decodeItem("a", it.Key, raw)
			if err != nil {
				return err
			}
			want, err := encodeItem(got)
			if err != nil {
				return err
			}
			if !bytes.Equal(raw, want) {
				t.Errorf("%s: the stored record is not the item's", it.Key)
			}
			if got.Title != it.Title || got.Seq == 0 {
				t.Errorf("%s: %+v", it.Key, got)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	k2, _ := db.Item(ctx, "a", "k2")
	k3, _ := db.Item(ctx, "a", "k3")
	if !k2.Published.Equal(day(9)) || !k3.IDShared {
		t.Errorf("k2 published %v (want %v); k3 IDShared %v (want true)", k2.Published, day(9), k3.IDShared)
	}
}
