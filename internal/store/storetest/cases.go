package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

var bg = context.Background()

// epoch is the suite's fixed clock.
var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func fixed() time.Time { return epoch }

// item is a dated item of src published hours after epoch's day before.
func item(src, key, title string, hours int) feed.Item {
	pub := epoch.Add(-24 * time.Hour).Add(time.Duration(hours) * time.Hour)
	return feed.Item{
		SourceID:  src,
		Key:       key,
		ID:        key,
		Link:      "https://" + src + ".example/" + key,
		Title:     title,
		Summary:   "<p>" + title + "</p>",
		Authors:   []feed.Person{{Name: "기자", Email: "desk@example.com"}},
		Language:  "ko",
		Published: pub,
		Updated:   pub,
		Dated:     true,
	}
}

// poll is n items of src, keys k000…, an hour apart from hour 0.
func poll(src string, n int) []feed.Item {
	its := make([]feed.Item, n)
	for i := range its {
		k := fmt.Sprintf("k%03d", i)
		its[i] = item(src, k, src+" story "+k, i)
	}
	return its
}

func stateOf(src string) feed.SourceState {
	return feed.SourceState{SourceID: src, URL: "https://" + src + ".example/feed.xml", ETag: `"v1"`, LastStatus: 200}
}

func save(t testing.TB, s store.Store, src string, items []feed.Item) feed.PollCounts {
	t.Helper()
	c, err := s.SavePoll(bg, src, items, stateOf(src))
	if err != nil {
		t.Fatalf("SavePoll(%s, %d items): %v", src, len(items), err)
	}
	return c
}

func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if got := feed.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func count(t testing.TB, s store.Store) int {
	t.Helper()
	n, err := s.Count(bg)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func keysOf(items []feed.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SourceID + "/" + it.Key
	}
	return out
}

func testSavePollRoundTrip(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	in := poll("a", 3)
	if c := save(t, s, "a", in); c != (feed.PollCounts{New: 3}) {
		t.Errorf("first poll counts %+v, want 3 new", c)
	}
	for _, want := range in {
		got, err := s.Item(bg, "a", want.Key)
		if err != nil {
			t.Fatalf("Item(a, %s): %v", want.Key, err)
		}
		if got.Title != want.Title || got.Link != want.Link || got.Summary != want.Summary || got.ID != want.ID ||
			got.Language != want.Language || !slices.Equal(got.Authors, want.Authors) {
			t.Errorf("Item(a, %s) = %+v, want the fields of %+v", want.Key, got, want)
		}
		if !got.Published.Equal(want.Published) || !got.FirstSeen.Equal(epoch) {
			t.Errorf("Item(a, %s): Published %v FirstSeen %v, want %v and %v", want.Key, got.Published, got.FirstSeen, want.Published, epoch)
		}
		if got.Seq == 0 || got.Rev == 0 {
			t.Errorf("Item(a, %s): Seq %d Rev %d, want both set", want.Key, got.Seq, got.Rev)
		}
	}
	if c := save(t, s, "a", in); c != (feed.PollCounts{Unchanged: 3}) {
		t.Errorf("same poll again: counts %+v, want 3 unchanged", c)
	}
	edited := slices.Clone(in)
	edited[1].Title = "an edited title"
	edited[1].Updated = edited[1].Updated.Add(time.Minute)
	if c := save(t, s, "a", edited); c != (feed.PollCounts{Updated: 1, Unchanged: 2}) {
		t.Errorf("edited poll: counts %+v, want 1 updated, 2 unchanged", c)
	}
	if got, _ := s.Item(bg, "a", "k001"); got.Title != "an edited title" {
		t.Errorf("after the edit: title %q", got.Title)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if n, err := s.SourceItemCount(bg, "a"); err != nil || n != 3 {
		t.Errorf("SourceItemCount(a) = %d, %v; want 3", n, err)
	}
	if n, err := s.SourceItemCount(bg, "never"); err != nil || n != 0 {
		t.Errorf("SourceItemCount(never) = %d, %v; want 0, nil", n, err)
	}
	st, err := s.State(bg, "a")
	if err != nil || st.Items != 3 || st.ETag != `"v1"` || st.LastStatus != 200 {
		t.Errorf("State(a) = %+v, %v; want 3 items and the state saved", st, err)
	}
	found, err := s.Locate(bg, "a/k002")
	if err != nil || len(found) != 1 || found[0].Story.Key != "k002" || found[0].Match != "key" {
		t.Errorf("Locate(a/k002) = %+v, %v", found, err)
	}
}

func testItemsAfterOrder(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "b", []feed.Item{item("b", "x", "b x", 5), item("b", "y", "b y", 1)})
	save(t, s, "a", []feed.Item{item("a", "x", "a x", 5), item("a", "z", "a z", 3)})
	all, err := s.ItemsAfter(bg, []string{"a", "b", "b", "unknown"}, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/x", "b/x", "a/z", "b/y"} // newest first, then source id
	if got := keysOf(all); !slices.Equal(got, want) {
		t.Fatalf("ItemsAfter = %v, want %v", got, want)
	}
	// Paging from each position gives the rest.
	for i := range all {
		rest, err := s.ItemsAfter(bg, []string{"a", "b"}, &all[i], 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := keysOf(rest); !slices.Equal(got, want[i+1:]) {
			t.Errorf("ItemsAfter(after %s) = %v, want %v", want[i], got, want[i+1:])
		}
	}
	if got, _ := s.ItemsAfter(bg, []string{"a", "b"}, nil, 2); !slices.Equal(keysOf(got), want[:2]) {
		t.Errorf("limit 2: %v", keysOf(got))
	}
	if got, err := s.ItemsAfter(bg, []string{"a"}, nil, 0); err != nil || len(got) != 0 {
		t.Errorf("limit 0: %v, %v; want none", keysOf(got), err)
	}
}

func testWriteOrder(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	if r, err := s.LastRev(bg); err != nil || r != 0 {
		t.Errorf("LastRev of an empty store = %d, %v", r, err)
	}
	save(t, s, "a", poll("a", 3))
	save(t, s, "b", poll("b", 2))
	since, err := s.ItemsSince(bg, 0, 100)
	if err != nil || len(since) != 5 {
		t.Fatalf("ItemsSince(0) = %d items, %v; want 5", len(since), err)
	}
	for i := 1; i < len(since); i++ {
		if since[i].Rev <= since[i-1].Rev {
			t.Errorf("ItemsSince not in Rev order: %d after %d", since[i].Rev, since[i-1].Rev)
		}
	}
	last, _ := s.LastRev(bg)
	if last != since[len(since)-1].Rev {
		t.Errorf("LastRev = %d, want %d", last, since[len(since)-1].Rev)
	}
	if rest, _ := s.ItemsSince(bg, since[2].Rev, 100); !slices.Equal(keysOf(rest), keysOf(since[3:])) {
		t.Errorf("ItemsSince(%d) = %v, want %v", since[2].Rev, keysOf(rest), keysOf(since[3:]))
	}
	if err := s.SetIndexedRev(bg, last); err != nil {
		t.Fatal(err)
	}
	if r, err := s.IndexedRev(bg); err != nil || r != last {
		t.Errorf("IndexedRev = %d, %v; want %d", r, err, last)
	}
}

func testStates(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	for _, id := range []string{"c", "a", "b"} {
		st := stateOf(id)
		st.Items = 99 // the store owns it
		if err := s.SaveState(bg, st); err != nil {
			t.Fatal(err)
		}
	}
	sts, err := s.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.SourceID)
		if st.Items != 0 {
			t.Errorf("state %s: Items %d, want 0 (the store's count)", st.SourceID, st.Items)
		}
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("States = %v, want a, b, c", ids)
	}
	if err := s.MarkParsing(bg, "a", epoch); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkParsing(bg, "new", epoch); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(bg, "a"); err != nil || !st.Parsing.Equal(epoch) || st.ETag != `"v1"` {
		t.Errorf("after MarkParsing: %+v, %v", st, err)
	}
	if st, err := s.State(bg, "new"); err != nil || !st.Parsing.Equal(epoch) {
		t.Errorf("MarkParsing of a new source: %+v, %v", st, err)
	}
}

// testStateFields saves a state with every field of feed.SourceState set
// and reads it back whole, with SaveState and SavePoll and after a reopen:
// the poller keeps its memory there (validators, adopted redirects,
// discovered feeds) and the WebSub subscriber its subscription (Push), and a field a backend forgets is a silent
// regression. A field added to feed.SourceState fails this case until it is
// set here, and so until every backend is checked for it.
func testStateFields(t *testing.T, b Backend) {
	at := func(h int) time.Time { return epoch.Add(time.Duration(h) * time.Hour) }
	want := feed.SourceState{
		SourceID: "full", URL: "https://feeds.example.kr/final.xml",
		ETag: `W/"e1"`, LastModified: "Sat, 01 Mar 2025 09:00:00 GMT", BodyHash: "ab12",
		LastStatus: 200, LastPoll: at(1), LastSuccess: at(2), LastError: "poll full: earlier", Errors: 3,
		NextPoll: at(3), Title: "예시 피드", Link: "https://www.example.kr/",
		Items:         1, // the store's count: the one item saved below
		ConfiguredURL: "https://www.example.kr/", AdoptedURL: "https://feeds.example.kr/moved.xml",
		DiscoveredURL:  "https://feeds.example.kr/rss.xml",
		RedirectTarget: "https://feeds.example.kr/next.xml", RedirectCount: 2,
		Retired: true, TTL: 90 * time.Minute, LastChange: at(4),
		Warning: "a note", Identity: "link", Parsing: at(5),
		Hub: "https://hub.example/", Self: "https://feeds.example.kr/final.xml",
		Push: feed.Push{Hub: "https://hub.example/", Topic: "https://feeds.example.kr/final.xml", Secret: "00ff", Token: "t0",
			State: feed.PushActive, Requested: at(6), Expires: at(7), LastDelivery: at(8), Error: "late"},
	}
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the case leaves feed.SourceState.%s unset: set it here and check that every backend stores it", v.Type().Field(i).Name)
		}
	}
	check := func(what string, s store.Store) {
		t.Helper()
		got, err := s.State(bg, want.SourceID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, tm := range []*time.Time{&got.LastPoll, &got.LastSuccess, &got.NextPoll, &got.LastChange, &got.Parsing,
			&got.Push.Requested, &got.Push.Expires, &got.Push.LastDelivery} {
			*tm = tm.UTC()
		}
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	s := open(t, b, Options{Now: fixed})
	if _, err := s.SavePoll(bg, want.SourceID, []feed.Item{item(want.SourceID, "k", "t", 1)}, want); err != nil {
		t.Fatal(err)
	}
	check("after SavePoll", s)
	want.Warning = "another note"
	if err := s.SaveState(bg, want); err != nil {
		t.Fatal(err)
	}
	check("after SaveState", s)
	s2 := b.Reopen(t, s, Options{Now: fixed})
	t.Cleanup(func() { s2.Close() })
	check("after reopen", s2)
}

func testSubscriptions(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	subs := []feed.Subscription{
		{Topic: "t2", Callback: "https://x/cb", Lease: time.Hour, Expires: epoch.Add(time.Hour), Created: epoch},
		{Topic: "t1", Callback: "https://y/cb", Secret: "s", Lease: time.Hour, Expires: epoch.Add(time.Hour), Created: epoch},
		{Topic: "t1", Callback: "https://x/cb", Lease: time.Hour, Expires: epoch.Add(-time.Hour), Created: epoch},
	}
	for _, sub := range subs {
		if err := s.PutSubscription(bg, sub); err != nil {
			t.Fatal(err)
		}
	}
	subs[1].Secret = "s2" // replaces
	if err := s.PutSubscription(bg, subs[1]); err != nil {
		t.Fatal(err)
	}
	all, err := s.Subscriptions(bg, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("Subscriptions() = %+v, %v", all, err)
	}
	var got []string
	for _, sub := range all {
		got = append(got, sub.Topic+" "+sub.Callback)
	}
	if want := []string{"t1 https://x/cb", "t1 https://y/cb", "t2 https://x/cb"}; !slices.Equal(got, want) {
		t.Errorf("Subscriptions order %v, want %v", got, want)
	}
	if all[1].Secret != "s2" || all[1].Lease != time.Hour || !all[1].Expires.Equal(epoch.Add(time.Hour)) {
		t.Errorf("replaced subscription %+v", all[1])
	}
	if err := s.DeleteSubscription(bg, "t1", "https://x/cb"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(bg, "t1", "https://nobody/cb"); err != nil {
		t.Errorf("deleting a missing subscription: %v", err)
	}
	if t1, _ := s.Subscriptions(bg, "t1"); len(t1) != 1 || t1[0].Callback != "https://y/cb" {
		t.Errorf("Subscriptions(t1) after delete: %+v", t1)
	}
}

func members(items []feed.Item) []store.Member {
	out := make([]store.Member, len(items))
	for i, it := range items {
		out[i] = store.Member{SourceID: it.SourceID, Key: it.Key, Seq: it.Seq, Sort: it.Sort(), Pin: -1}
	}
	return out
}

func stored(t testing.TB, s store.Store, src string) []feed.Item {
	t.Helper()
	its, err := s.ItemsAfter(bg, []string{src}, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return its
}

func testIndexes(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 5))
	its := stored(t, s, "a")
	if _, ok, err := s.IndexState(bg, "ch"); ok || err != nil {
		t.Errorf("IndexState of a missing index: ok %v, %v", ok, err)
	}
	_, _, err := s.Newest(bg, "ch", nil, 0, 10, false)
	if !errors.Is(err, store.ErrNoIndex) {
		t.Errorf("Newest of a missing index: %v, want ErrNoIndex", err)
	}
	sts, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: members(its), PageSize: 2, Rev: 7, Complete: true, Now: epoch, Label: "channel ch"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts["ch"]; st.Count != 5 || st.Rev != 7 || !st.Complete || st.Label != "channel ch" || st.Pages != 3 {
		t.Errorf("index state %+v, want 5 members in 3 pages, Rev 7, complete", st)
	}
	mem, got, err := s.Newest(bg, "ch", nil, 0, 10, false)
	if err != nil || len(mem) != 5 || !slices.Equal(keysOf(got), keysOf(its)) {
		t.Errorf("Newest = %v, %v; want %v", keysOf(got), err, keysOf(its))
	}
	if in, err := s.MemberOf(bg, "a", its[0].Key); err != nil || !slices.Equal(in, []string{"ch"}) {
		t.Errorf("MemberOf = %v, %v", in, err)
	}
	if p, err := s.IndexPage(bg, "ch", 3); err != nil || p.Count != 1 || p.Next != 0 {
		t.Errorf("IndexPage(3) = %+v, %v", p, err)
	}
	wantCode(t, "IndexPage(4)", func() error { _, err := s.IndexPage(bg, "ch", 4); return err }(), feed.ENOTFOUND)
	if names, err := s.Indexes(bg); err != nil || !slices.Equal(names, []string{"ch"}) {
		t.Errorf("Indexes = %v, %v", names, err)
	}
	if err := s.DropIndex(bg, "ch", false); err != nil {
		t.Fatal(err)
	}
	if err := s.DropIndex(bg, "ch", false); err != nil {
		t.Errorf("dropping a missing index: %v", err)
	}
	if _, ok, _ := s.IndexState(bg, "ch"); ok {
		t.Error("index still there after DropIndex")
	}
}

func testPrune(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 10))
	res, err := s.Prune(bg, "a", feed.Retention{Items: 4}, epoch)
	if err != nil || res.Items != 6 {
		t.Fatalf("Prune = %+v, %v; want 6 items", res, err)
	}
	if n := count(t, s); n != 4 {
		t.Errorf("Count after prune = %d, want 4", n)
	}
	if n, _ := s.Tombstones(bg, "a"); n != 6 {
		t.Errorf("Tombstones = %d, want 6", n)
	}
	// A pruned key is never stored again.
	if c := save(t, s, "a", poll("a", 10)); c.New != 0 {
		t.Errorf("re-poll after prune: %+v, want nothing new", c)
	}
	if n := count(t, s); n != 4 {
		t.Errorf("Count after re-poll = %d, want 4", n)
	}
	gone, err := s.ItemsSince(bg, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var g int
	for _, it := range gone {
		if it.Seq == 0 {
			g++
		}
	}
	if g != 6 {
		t.Errorf("ItemsSince has %d gone entries, want 6", g)
	}
	if res, err := s.Prune(bg, "nobody", feed.Retention{Items: 1}, epoch); err != nil || res.Items != 0 {
		t.Errorf("Prune of an empty source = %+v, %v", res, err)
	}
}

func testReopen(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 3))
	if err := s.PutSubscription(bg, feed.Subscription{Topic: "t", Callback: "https://cb", Expires: epoch, Created: epoch}); err != nil {
		t.Fatal(err)
	}
	before := stored(t, s, "a")
	s2 := b.Reopen(t, s, Options{Now: fixed})
	t.Cleanup(func() { s2.Close() })
	after := stored(t, s2, "a")
	if !slices.Equal(keysOf(before), keysOf(after)) {
		t.Fatalf("after reopen %v, want %v", keysOf(after), keysOf(before))
	}
	for i := range after {
		if after[i].Seq != before[i].Seq || after[i].Rev != before[i].Rev || !after[i].Published.Equal(before[i].Published) {
			t.Errorf("item %s changed by reopen: %+v, was %+v", after[i].Key, after[i], before[i])
		}
	}
	if subs, _ := s2.Subscriptions(bg, "t"); len(subs) != 1 {
		t.Errorf("subscriptions after reopen: %+v", subs)
	}
	// Counters go on: a new item gets a higher Seq and Rev.
	save(t, s2, "b", poll("b", 1))
	nb, _ := s2.Item(bg, "b", "k000")
	if nb.Seq <= before[0].Seq || nb.Rev <= before[0].Rev {
		t.Errorf("new item after reopen: Seq %d Rev %d, not above %d %d", nb.Seq, nb.Rev, before[0].Seq, before[0].Rev)
	}
}

func testNotFound(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 1))
	_, err := s.Item(bg, "a", "missing")
	wantCode(t, "Item(missing key)", err, feed.ENOTFOUND)
	_, err = s.Item(bg, "nobody", "k000")
	wantCode(t, "Item(missing source)", err, feed.ENOTFOUND)
	_, err = s.State(bg, "nobody")
	wantCode(t, "State(missing)", err, feed.ENOTFOUND)
	_, err = s.Locate(bg, "https://nowhere.example/")
	wantCode(t, "Locate(no match)", err, feed.ENOTFOUND)
	_, err = s.Locate(bg, "")
	wantCode(t, "Locate(\"\")", err, feed.EINVALID)
	_, err = s.IndexPage(bg, "none", 1)
	wantCode(t, "IndexPage(missing index)", err, feed.ENOTFOUND)
	_, _, err = s.BySeq(bg, "none", 0, 0, 10)
	if !errors.Is(err, store.ErrNoIndex) {
		t.Errorf("BySeq(missing index): %v, want ErrNoIndex", err)
	}
}

func testBadInput(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	long := strings.Repeat("x", store.MaxKey+1)
	polls := []struct {
		name   string
		source string
		items  []feed.Item
		state  feed.SourceState
	}{
		{"empty source id", "", nil, feed.SourceState{}},
		{"over-long source id", strings.Repeat("s", store.MaxSourceID+1), nil, feed.SourceState{}},
		{"state of another source", "a", nil, stateOf("b")},
		{"item of another source", "a", []feed.Item{item("a", "ok", "ok", 0), item("b", "k", "b's", 1)}, stateOf("a")},
		{"empty key", "a", []feed.Item{item("a", "ok", "ok", 0), item("a", "", "no key", 1)}, stateOf("a")},
		{"over-long key", "a", []feed.Item{item("a", long, "long key", 0)}, stateOf("a")},
	}
	for _, p := range polls {
		_, err := s.SavePoll(bg, p.source, p.items, p.state)
		wantCode(t, "SavePoll: "+p.name, err, feed.EINVALID)
	}
	// A key of exactly MaxKey bytes is stored.
	atMax := strings.Repeat("k", store.MaxKey)
	if _, err := s.SavePoll(bg, "max", []feed.Item{item("max", atMax, "longest key", 0)}, stateOf("max")); err != nil {
		t.Errorf("SavePoll of a MaxKey key: %v", err)
	} else if got, err := s.Item(bg, "max", atMax); err != nil || got.Key != atMax {
		t.Errorf("Item of a MaxKey key: %v", err)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("Count = %d after invalid polls, want only the MaxKey item", n)
	}
	if _, err := s.State(bg, "a"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Errorf("State(a) after invalid polls: %v, want not found", err)
	}
	wantCode(t, "SaveState(empty id)", s.SaveState(bg, feed.SourceState{}), feed.EINVALID)
	wantCode(t, "PutSubscription(empty topic)", s.PutSubscription(bg, feed.Subscription{Callback: "https://cb"}), feed.EINVALID)
	wantCode(t, "PutSubscription(empty callback)", s.PutSubscription(bg, feed.Subscription{Topic: "t"}), feed.EINVALID)
	wantCode(t, "PutSubscription(NUL)", s.PutSubscription(bg, feed.Subscription{Topic: "t\x00u", Callback: "https://cb"}), feed.EINVALID)
	for name, index := range map[string]string{"empty": "", "over-long": strings.Repeat("i", store.MaxIndexName+1)} {
		_, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{index: {Now: epoch}})
		wantCode(t, "UpdateIndexes("+name+" index name)", err, feed.EINVALID)
	}
	_, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": {Put: []store.Member{{SourceID: "max", Key: atMax, Seq: 0}}, Now: epoch}})
	wantCode(t, "UpdateIndexes(zero Seq)", err, feed.EINVALID)
	if names, _ := s.Indexes(bg); len(names) != 0 {
		t.Errorf("refused index updates created %v", names)
	}
}

func testInvalidUTF8(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	// Ids and keys are bytes: one that is not UTF-8 is stored and found
	// as it was given.
	src, key := "src\xff", "key\xfe\x80"
	it := item(src, key, "title", 0)
	if _, err := s.SavePoll(bg, src, []feed.Item{it}, stateOf(src)); err != nil {
		t.Fatalf("SavePoll with a non-UTF-8 source id and key: %v", err)
	}
	got, err := s.Item(bg, src, key)
	if err != nil || got.Key != key || got.SourceID != src {
		t.Fatalf("Item(%q, %q) = %q/%q, %v", src, key, got.SourceID, got.Key, err)
	}
	if st, err := s.State(bg, src); err != nil || st.SourceID != src {
		t.Errorf("State(%q) = %q, %v", src, st.SourceID, err)
	}
	if its := stored(t, s, src); len(its) != 1 || its[0].Key != key {
		t.Errorf("ItemsAfter(%q) = %q", src, keysOf(its))
	}
}

func testDoneContext(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	done, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.SavePoll(done, "a", poll("a", 2), stateOf("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("SavePoll with a done context: %v, want context.Canceled", err)
	}
	if err := s.SaveState(done, stateOf("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveState with a done context: %v, want context.Canceled", err)
	}
	if _, err := s.UpdateIndexes(done, map[string]store.IndexUpdate{"ch": {Now: epoch}}); !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateIndexes with a done context: %v", err)
	}
	if _, err := s.Item(done, "a", "k000"); !errors.Is(err, context.Canceled) || feed.ErrorCode(err) == feed.ENOTFOUND {
		t.Errorf("Item with a done context: %v, want context.Canceled, not not-found", err)
	}
	if n := count(t, s); n != 0 {
		t.Errorf("Count = %d after writes with a done context", n)
	}
	if _, err := s.State(bg, "a"); feed.ErrorCode(err) != feed.ENOTFOUND {
		t.Errorf("State after SaveState with a done context: %v", err)
	}
}

func testClose(t *testing.T, b Backend) {
	s := b.Open(t, Options{Now: fixed})
	if err := s.Ping(bg); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Ping(bg); err == nil {
		t.Error("Ping after Close succeeded")
	}
	_, err := s.Item(bg, "a", "k")
	if err == nil || feed.ErrorCode(err) == feed.ENOTFOUND {
		t.Errorf("Item after Close: %v, want a failure that is not not-found", err)
	}
}

// checkSeqs fails unless every stored item of srcs has its own Seq and Rev.
func checkSeqs(t *testing.T, s store.Store, srcs []string) {
	t.Helper()
	its, err := s.ItemsAfter(bg, srcs, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	seqs, revs := map[uint64]string{}, map[uint64]string{}
	for _, it := range its {
		k := it.SourceID + "/" + it.Key
		if o, dup := seqs[it.Seq]; dup || it.Seq == 0 {
			t.Errorf("Seq %d of %s also %q", it.Seq, k, o)
		}
		if o, dup := revs[it.Rev]; dup || it.Rev == 0 {
			t.Errorf("Rev %d of %s also %q", it.Rev, k, o)
		}
		seqs[it.Seq], revs[it.Rev] = k, k
	}
}

func testConcurrentSources(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const sources, per = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, sources)
	var ids []string
	for i := range sources {
		src := fmt.Sprintf("s%02d", i)
		ids = append(ids, src)
		wg.Go(func() {
			c, err := s.SavePoll(bg, src, poll(src, per), stateOf(src))
			if err == nil && c.New != per {
				err = fmt.Errorf("%s: counts %+v, want %d new", src, c, per)
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
	if n := count(t, s); n != sources*per {
		t.Errorf("Count = %d, want %d", n, sources*per)
	}
	for _, src := range ids {
		if n, err := s.SourceItemCount(bg, src); err != nil || n != per {
			t.Errorf("SourceItemCount(%s) = %d, %v", src, n, err)
		}
	}
	checkSeqs(t, s, ids)
}

func testConcurrentOneSource(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const per = 30
	var wg sync.WaitGroup
	counts := make([]feed.PollCounts, 2)
	errs := make([]error, 2)
	for g := range 2 {
		wg.Go(func() {
			counts[g], errs[g] = s.SavePoll(bg, "a", poll("a", per), stateOf("a"))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The two polls are serialised: one stores every item, the other
	// finds them unchanged.
	if got := counts[0].New + counts[1].New; got != per {
		t.Errorf("New over both polls = %d (%+v), want %d", got, counts, per)
	}
	if got := counts[0].Unchanged + counts[1].Unchanged; got != per {
		t.Errorf("Unchanged over both polls = %d, want %d", got, per)
	}
	if n := count(t, s); n != per {
		t.Errorf("Count = %d, want %d", n, per)
	}
	if st, err := s.State(bg, "a"); err != nil || st.Items != per {
		t.Errorf("State(a).Items = %d, %v; want %d", st.Items, err, per)
	}
	checkSeqs(t, s, []string{"a"})
}

func testReadersDuringWrites(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const polls, per = 20, 5
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readErr := make(chan error, 3)
	read := func(f func() error) {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					readErr <- nil
					return
				default:
				}
				if err := f(); err != nil {
					readErr <- err
					return
				}
			}
		})
	}
	read(func() error {
		its, err := s.ItemsAfter(bg, []string{"w"}, nil, 1000)
		// A reader sees whole polls: a multiple of per.
		if err == nil && len(its)%per != 0 {
			err = fmt.Errorf("a reader saw %d items: part of a poll", len(its))
		}
		return err
	})
	var lastRev uint64
	read(func() error {
		its, err := s.ItemsSince(bg, 0, 1000)
		for i := 1; err == nil && i < len(its); i++ {
			if its[i].Rev <= its[i-1].Rev {
				err = fmt.Errorf("ItemsSince out of order: %d after %d", its[i].Rev, its[i-1].Rev)
			}
		}
		if err == nil && len(its) > 0 {
			if r := its[len(its)-1].Rev; r < lastRev {
				err = fmt.Errorf("the write order went back: %d after %d", r, lastRev)
			} else {
				lastRev = r
			}
		}
		return err
	})
	read(func() error {
		_, err := s.State(bg, "w")
		if feed.ErrorCode(err) == feed.ENOTFOUND {
			err = nil
		}
		return err
	})
	all := make([]feed.Item, 0, polls*per)
	for i := range polls * per {
		all = append(all, item("w", fmt.Sprintf("k%04d", i), fmt.Sprintf("story %d", i), i))
	}
	for p := range polls {
		if _, err := s.SavePoll(bg, "w", all[:(p+1)*per], stateOf("w")); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	readers.Wait()
	close(readErr)
	for err := range readErr {
		if err != nil {
			t.Error(err)
		}
	}
	if n := count(t, s); n != polls*per {
		t.Errorf("Count = %d, want %d", n, polls*per)
	}
}

func testIndexesDuringPolls(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	save(t, s, "a", poll("a", 40))
	its := stored(t, s, "a")
	slices.SortFunc(its, func(x, y feed.Item) int { return cmp.Compare(x.Seq, y.Seq) })
	var wg sync.WaitGroup
	var pollErr error
	wg.Go(func() {
		for i := range 10 {
			src := fmt.Sprintf("p%d", i)
			if _, err := s.SavePoll(bg, src, poll(src, 10), stateOf(src)); err != nil {
				pollErr = err
				return
			}
		}
	})
	var idxErr error
	wg.Go(func() {
		for i := 0; i < len(its); i += 4 {
			u := store.IndexUpdate{Put: members(its[i : i+4]), PageSize: 10, Rev: uint64(i + 1), Now: epoch}
			if _, err := s.UpdateIndexes(bg, map[string]store.IndexUpdate{"ch": u}); err != nil {
				idxErr = err
				return
			}
		}
	})
	wg.Wait()
	if pollErr != nil || idxErr != nil {
		t.Fatalf("polls: %v; index updates: %v", pollErr, idxErr)
	}
	st, ok, err := s.IndexState(bg, "ch")
	if err != nil || !ok || st.Count != len(its) || st.Pages != 4 {
		t.Errorf("IndexState = %+v, %v, %v; want %d members in 4 pages", st, ok, err, len(its))
	}
	seqs, err := s.MemberSeqs(bg, "ch", 0, 1000)
	if err != nil || len(seqs) != len(its) || !slices.IsSorted(seqs) {
		t.Errorf("MemberSeqs = %v, %v", seqs, err)
	}
	if n := count(t, s); n != 140 {
		t.Errorf("Count = %d, want 140", n)
	}
}
