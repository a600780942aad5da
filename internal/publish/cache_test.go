package publish

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// fakeReader is an in-memory store that counts what it is asked.
type fakeReader struct {
	mu         sync.Mutex
	items      map[string][]feed.Item // by source id
	states     []feed.SourceState
	itemsErr   error
	itemCalls  [][]string // the source ids of each Items call
	stateCalls int
}

func (r *fakeReader) Items(ids []string, limit int) ([]feed.Item, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.itemCalls = append(r.itemCalls, slices.Clone(ids))
	if r.itemsErr != nil {
		return nil, r.itemsErr
	}
	var out []feed.Item
	for _, id := range ids {
		out = append(out, r.items[id]...)
	}
	slices.SortStableFunc(out, func(a, b feed.Item) int { return b.Sort().Compare(a.Sort()) })
	return out[:min(limit, len(out))], nil
}

func (r *fakeReader) States() ([]feed.SourceState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stateCalls++
	return slices.Clone(r.states), nil
}

// add stores a new item of source src, n minutes after a fixed time.
func (r *fakeReader) add(src string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := testItem(src, fmt.Sprintf("id:%s-%d", src, n))
	it.ID = fmt.Sprintf("https://%s.example/%d", src, n)
	it.Link = it.ID
	it.Title = fmt.Sprintf("%s %d", src, n)
	it.Published = it.Published.Add(time.Duration(n) * time.Minute)
	it.Updated = it.Published
	r.items[src] = append(r.items[src], it)
}

// calls returns and resets the counts of Items and States calls, and the
// channels' source ids Items was asked for, sorted.
func (r *fakeReader) calls() (items [][]string, states int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	items, states = r.itemCalls, r.stateCalls
	r.itemCalls, r.stateCalls = nil, 0
	slices.SortFunc(items, func(a, b []string) int { return slices.Compare(a, b) })
	return items, states
}

var (
	testSources = []feed.Source{
		{ID: "a", URL: "https://a.example/feed", Title: "Source A"},
		{ID: "b", URL: "https://b.example/feed", Tags: []string{"bee"}},
		{ID: "c", URL: "https://c.example/feed", Tags: []string{"bee"}},
	}
	testChannels = []feed.Channel{
		{ID: "only-a", Title: "Only A", Sources: []string{"a"}, Limit: 2},
		{ID: "bees", Title: "Bees", Tags: []string{"bee"}, Limit: 10},
		{ID: "all", Title: "All", Sources: []string{"a"}, Tags: []string{"bee"}, Limit: 10},
		{ID: "none", Title: "None", Sources: []string{"missing"}, Limit: 10},
	}
)

func newTestCache(t *testing.T) (*Cache, *fakeReader) {
	t.Helper()
	r := &fakeReader{
		items: map[string][]feed.Item{},
		states: []feed.SourceState{
			{SourceID: "b", URL: "https://b.example/moved", Title: "B's own title", Link: "https://b.example/",
				LastSuccess: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		},
	}
	for n := range 3 {
		r.add("a", n)
		r.add("b", n)
	}
	c := NewCache(r, testBase+"/")
	if err := c.Configure(testChannels, testSources); err != nil {
		t.Fatal(err)
	}
	return c, r
}

func TestCacheConfigure(t *testing.T) {
	c, r := newTestCache(t)
	items, states := r.calls()
	if want := [][]string{{"a"}, {"a", "b", "c"}, {"b", "c"}}; !slices.EqualFunc(items, want, slices.Equal) {
		t.Errorf("Items calls = %q, want %q (none for a channel without sources)", items, want)
	}
	if states != 1 {
		t.Errorf("States calls = %d, want 1", states)
	}

	var ids []string
	for _, s := range c.Channels() {
		ids = append(ids, s.Channel.ID)
	}
	if want := []string{"only-a", "bees", "all", "none"}; !slices.Equal(ids, want) {
		t.Errorf("Channels = %q, want config order %q", ids, want)
	}

	s, ok := c.Snapshot("only-a")
	if !ok {
		t.Fatal("Snapshot(only-a) not found")
	}
	if got := len(s.Items); got != 2 {
		t.Errorf("only-a has %d items, want its limit 2", got)
	}
	for _, f := range Formats {
		d := s.Docs[f]
		if d == nil || d.ETag != etag(d.Body) {
			t.Fatalf("only-a %s document = %+v", f, d)
		}
		want, err := Render(Input{Channel: s.Channel, Items: s.Items, Sources: s.Sources, BaseURL: testBase}, f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Body, want) {
			t.Errorf("only-a %s document differs from Render of the snapshot (base URL not trimmed?)", f)
		}
	}
	if got, want := s.Updated, s.Items[0].Updated; !got.Equal(want) {
		t.Errorf("Updated = %v, want the newest item's %v", got, want)
	}

	none, _ := c.Snapshot("none")
	if len(none.Items) != 0 || len(none.Docs) != len(Formats) || !none.Docs[Atom].LastModified.IsZero() {
		t.Errorf("channel without sources: %d items, %d docs", len(none.Items), len(none.Docs))
	}
	if _, ok := c.Snapshot("nope"); ok {
		t.Error("Snapshot(nope) found")
	}

	all, _ := c.Snapshot("all")
	if got := slices.Sorted(maps.Keys(all.Sources)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("all.Sources = %q, want a b c", got)
	}
}

func TestCacheReadersNeverQueryStore(t *testing.T) {
	c, r := newTestCache(t)
	r.calls()
	for range 10 {
		c.Channels()
		c.Snapshot("all")
		c.Snapshot("nope")
	}
	if items, states := r.calls(); len(items) != 0 || states != 0 {
		t.Errorf("Snapshot/Channels called Items %d times and States %d times, want 0", len(items), states)
	}
}

func TestCacheRefresh(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ids       []string
		wantCalls [][]string // Items calls, sorted
		rendered  []string   // channels with a new snapshot
	}{
		{"one source", []string{"a"}, [][]string{{"a"}, {"a", "b", "c"}}, []string{"only-a", "all"}},
		{"by tag", []string{"c"}, [][]string{{"a", "b", "c"}, {"b", "c"}}, []string{"bees", "all"}},
		{"unknown source", []string{"zzz"}, nil, nil},
		{"all", nil, [][]string{{"a"}, {"a", "b", "c"}, {"b", "c"}}, []string{"only-a", "bees", "all", "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := newTestCache(t)
			before := snapshotsByID(c)
			r.calls()
			if err := c.Refresh(tc.ids...); err != nil {
				t.Fatal(err)
			}
			items, states := r.calls()
			if !slices.EqualFunc(items, tc.wantCalls, slices.Equal) {
				t.Errorf("Items calls = %q, want %q", items, tc.wantCalls)
			}
			want := 0 // the store's states are read once per refresh that renders
			if len(tc.rendered) > 0 {
				want = 1
			}
			if states != want {
				t.Errorf("States calls = %d, want %d", states, want)
			}
			after := snapshotsByID(c)
			for id, s := range after {
				if got, want := s != before[id], slices.Contains(tc.rendered, id); got != want {
					t.Errorf("channel %s re-rendered = %v, want %v", id, got, want)
				}
			}
		})
	}
}

func snapshotsByID(c *Cache) map[string]*Snapshot {
	m := map[string]*Snapshot{}
	for _, s := range c.Channels() {
		m[s.Channel.ID] = s
	}
	return m
}

// TestCacheETag checks that a document's ETag changes when, and only
// when, its body does.
func TestCacheETag(t *testing.T) {
	c, r := newTestCache(t)
	etags := func(id string) map[Format]string {
		s, _ := c.Snapshot(id)
		m := map[Format]string{}
		for f, d := range s.Docs {
			m[f] = d.ETag
		}
		return m
	}
	bodies := func(id string) map[Format][]byte {
		s, _ := c.Snapshot(id)
		m := map[Format][]byte{}
		for f, d := range s.Docs {
			m[f] = d.Body
		}
		return m
	}
	bees, beesBody := etags("bees"), bodies("bees")
	all, allBody := etags("all"), bodies("all")

	t.Run("nothing changed", func(t *testing.T) {
		if err := c.Refresh("b"); err != nil {
			t.Fatal(err)
		}
		for _, f := range Formats {
			if etags("bees")[f] != bees[f] || !bytes.Equal(bodies("bees")[f], beesBody[f]) {
				t.Errorf("bees %s: ETag or body changed on a refresh without new items", f)
			}
		}
	})
	t.Run("new item", func(t *testing.T) {
		r.add("b", 10)
		if err := c.Refresh("b"); err != nil {
			t.Fatal(err)
		}
		for _, f := range Formats {
			if etags("all")[f] == all[f] || bytes.Equal(bodies("all")[f], allBody[f]) {
				t.Errorf("all %s: ETag or body unchanged after a new item", f)
			}
		}
	})
}

func TestCacheRefreshErrorKeepsSnapshot(t *testing.T) {
	c, r := newTestCache(t)
	before, _ := c.Snapshot("only-a")
	r.itemsErr = errors.New("disk on fire")
	err := c.Refresh("a")
	if !errors.Is(err, r.itemsErr) {
		t.Fatalf("Refresh error = %v, want the store's", err)
	}
	if after, _ := c.Snapshot("only-a"); after != before {
		t.Error("a failed refresh replaced the snapshot")
	}
}

func TestCacheConfigureErrorKeepsState(t *testing.T) {
	c, r := newTestCache(t)
	r.itemsErr = errors.New("disk on fire")
	if err := c.Configure(testChannels[:1], testSources); !errors.Is(err, r.itemsErr) {
		t.Fatalf("Configure error = %v, want the store's", err)
	}
	if got := len(c.Channels()); got != len(testChannels) {
		t.Errorf("after a failed Configure: %d channels, want the previous %d", got, len(testChannels))
	}
}

// TestCacheHotReload checks that Configure replaces the channel list.
func TestCacheHotReload(t *testing.T) {
	c, _ := newTestCache(t)
	renamed := testChannels[1]
	renamed.Title = "Bees, renamed"
	if err := c.Configure([]feed.Channel{renamed}, testSources); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Snapshot("only-a"); ok {
		t.Error("a channel dropped from the config is still published")
	}
	s, ok := c.Snapshot("bees")
	if !ok || s.Channel.Title != renamed.Title || !bytes.Contains(s.Docs[Atom].Body, []byte("Bees, renamed")) {
		t.Error("the reconfigured channel was not re-rendered")
	}
}

func TestSourceInfo(t *testing.T) {
	polled := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name string
		src  feed.Source
		st   feed.SourceState
		want SourceInfo
	}{
		{"never polled", feed.Source{ID: "x", URL: "https://x.example/f"}, feed.SourceState{},
			SourceInfo{ID: "x", Title: "x", FeedURL: "https://x.example/f", Link: "https://x.example/f"}},
		{"configured title wins", feed.Source{ID: "x", URL: "https://x.example/f", Title: "Staff title"},
			feed.SourceState{Title: "Feed title", URL: "https://x.example/g", Link: "https://x.example/", LastSuccess: polled},
			SourceInfo{ID: "x", Title: "Staff title", FeedURL: "https://x.example/g", Link: "https://x.example/", Updated: polled}},
		{"feed title", feed.Source{ID: "x", URL: "https://x.example/f"}, feed.SourceState{Title: "Feed title"},
			SourceInfo{ID: "x", Title: "Feed title", FeedURL: "https://x.example/f", Link: "https://x.example/f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sourceInfo(tc.src, tc.st); got != tc.want {
				t.Errorf("sourceInfo = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCacheConcurrentReads reads snapshots while refreshes swap them in;
// run under -race.
func TestCacheConcurrentReads(t *testing.T) {
	c, r := newTestCache(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				for _, s := range c.Channels() {
					for _, f := range Formats {
						if d := s.Docs[f]; d.ETag != etag(d.Body) {
							t.Errorf("%s %s: ETag %s does not match its body", s.Channel.ID, f, d.ETag)
							return
						}
					}
				}
				if s, ok := c.Snapshot("all"); !ok || len(s.Docs) != len(Formats) {
					t.Error("Snapshot(all) missing during a refresh")
					return
				}
			}
		})
	}
	for n := range 20 {
		r.add("c", 100+n)
		if err := c.Refresh("c"); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
