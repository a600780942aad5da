package membership

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	db    *bolt.DB
	ix    *Index
	clk   *clock
	mu    sync.Mutex
	notes []string // channel ids OnChange named
}

// newEnv opens a store and runs an Index over it with page size 3.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{now: t0.AddDate(0, 0, 30)}}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), bolt.Options{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.ix = New(db, Options{PageSize: 3, Now: e.clk.Now, OnChange: func(ids []string) {
		e.mu.Lock()
		e.notes = append(e.notes, ids...)
		e.mu.Unlock()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.ix.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := db.Check(); err != nil {
			t.Error(err)
		}
		db.Close()
	})
	return e
}

// item is story n of src: published n hours after t0, titled and linked
// after it.
func item(src string, n int, title string) feed.Item {
	link := fmt.Sprintf("https://%s.example/%d", src, n)
	pub := t0.Add(time.Duration(n) * time.Hour)
	return feed.Item{SourceID: src, Key: "id:" + link, ID: link, Link: link, Title: title, Published: pub, Updated: pub, Dated: true}
}

func (e *env) save(src string, items ...feed.Item) {
	e.t.Helper()
	if _, err := e.db.SavePoll(context.Background(), src, items, feed.SourceState{SourceID: src}); err != nil {
		e.t.Fatal(err)
	}
	e.ix.Kick()
}

func (e *env) configure(channels []feed.Channel, sources []feed.Source) {
	e.t.Helper()
	if err := e.ix.Configure(context.Background(), channels, sources); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ix.WaitCurrent(ctx); err != nil {
		e.t.Fatalf("index never caught up: %v", err)
	}
}

// newest returns the titles of every member of ch, newest first, paging 2
// at a time.
func (e *env) newest(ch string) []string {
	e.t.Helper()
	var out []string
	var after *Cursor
	for range 100 {
		p, err := e.ix.Older(context.Background(), ch, after, 2)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range p.Items {
			out = append(out, it.Title)
		}
		if !p.More {
			return out
		}
		after = &p.Last
	}
	e.t.Fatal("paging never ends")
	return nil
}

// archive returns the titles of every archive page, oldest first, pages
// separated by "|".
func (e *env) archive(ch string) string {
	e.t.Helper()
	n, err := e.ix.Pages(context.Background(), ch)
	if err != nil {
		e.t.Fatal(err)
	}
	var pages []string
	for i := 1; i <= n; i++ {
		p, err := e.ix.Archive(context.Background(), ch, i)
		if err != nil {
			e.t.Fatal(err)
		}
		var ts []string
		for _, it := range p.Items {
			ts = append(ts, it.Title)
		}
		pages = append(pages, strings.Join(ts, ","))
	}
	return strings.Join(pages, "|")
}

func rules(words ...string) []feed.Rule {
	var rs []feed.Rule
	for _, w := range words {
		rs = append(rs, feed.Rule{Pattern: w})
	}
	return rs
}

func TestMembership(t *testing.T) {
	e := newEnv(t)
	sources := []feed.Source{
		{ID: "a", Tags: []string{"news"}, Limit: 2},
		{ID: "b", Tags: []string{"news"}, Curation: feed.Curation{Exclude: rules("sponsored")}},
	}
	channels := []feed.Channel{{ID: "news", Tags: []string{"news"}, Limit: 10, Pin: []string{"https://b.example/1"},
		Curation: feed.Curation{Exclude: rules("광고")}}}
	// Stored in this order: a1 a2 b1 b2(sponsored) a3 b3 a4(광고) b4.
	e.save("a", item("a", 1, "a1"), item("a", 2, "a2"))
	e.save("b", item("b", 1, "b1"), item("b", 2, "b2 sponsored"))
	e.save("a", item("a", 3, "a3"))
	e.save("b", item("b", 3, "b3"))
	e.save("a", item("a", 4, "a4 광고"))
	e.save("b", item("b", 4, "b4"))

	t.Run("built from the store", func(t *testing.T) {
		e.configure(channels, sources)
		e.settle()
		// a keeps its newest two kept stories (a3, a2: a4 is excluded by
		// the channel); b1 is pinned; b2 is excluded by its source.
		if got, want := e.newest("news"), []string{"b1", "b4", "a3", "b3", "a2"}; !slices.Equal(got, want) {
			t.Errorf("members = %q, want %q", got, want)
		}
		if got, want := e.archive("news"), "a2,b1,a3|b3,b4"; got != want {
			t.Errorf("archive = %q, want %q", got, want)
		}
		// Pages say which members a pin put there, whichever way they walk.
		p, err := e.ix.Older(context.Background(), "news", nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, false, false}; !slices.Equal(p.Pinned, want) {
			t.Errorf("Pinned = %v, want %v", p.Pinned, want)
		}
		back, err := e.ix.Newer(context.Background(), "news", p.Last, 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, false}; !slices.Equal(back.Pinned, want) || len(back.Items) != 2 {
			t.Errorf("Newer: %d items, Pinned = %v, want %v", len(back.Items), back.Pinned, want)
		}
	})

	t.Run("a new story of a limited source pushes its oldest out", func(t *testing.T) {
		e.save("a", item("a", 5, "a5"))
		e.settle()
		if got, want := e.newest("news"), []string{"b1", "a5", "b4", "a3", "b3"}; !slices.Equal(got, want) {
			t.Errorf("members = %q, want %q", got, want)
		}
		// a2 leaves page 1, a5 opens nothing: page 2 had room.
		if got, want := e.archive("news"), "b1,a3|b3,b4,a5"; got != want {
			t.Errorf("archive = %q, want %q", got, want)
		}
	})

	t.Run("an edit that an exclude matches takes the story out", func(t *testing.T) {
		edited := item("b", 3, "b3 now sponsored")
		e.save("b", edited)
		e.settle()
		if got, want := e.newest("news"), []string{"b1", "a5", "b4", "a3"}; !slices.Equal(got, want) {
			t.Errorf("members = %q, want %q", got, want)
		}
	})

	t.Run("a merged copy brings a story in through its carrier", func(t *testing.T) {
		// c is not in the channel; its story is carried by b as well.
		sources = append(sources, feed.Source{ID: "c"})
		e.configure(channels, sources)
		e.settle()
		e.save("c", item("c", 6, "c6 shared story"))
		e.settle()
		if got := e.newest("news"); slices.Contains(got, "c6 shared story") {
			t.Fatalf("a story of an unselected source is a member: %q", got)
		}
		copyOf := item("c", 6, "c6 shared story")
		copyOf.SourceID, copyOf.Key, copyOf.ID = "b", "id:b-copy", "b-copy"
		e.save("b", copyOf) // same link: merged into c's story
		e.settle()
		if got, want := e.newest("news"), []string{"b1", "c6 shared story", "a5", "b4", "a3"}; !slices.Equal(got, want) {
			t.Errorf("members = %q, want %q", got, want)
		}
	})

	t.Run("a hide is in force at once, before the new index is built", func(t *testing.T) {
		hidden := channels
		hidden[0].Curation.Hide = []string{"https://a.example/5"}
		// An Index that never runs (a reload, or a restart, before any
		// build): the old index answers, re-checked with the new rules.
		still := New(e.db, Options{PageSize: 3, Now: e.clk.Now})
		if err := still.Configure(context.Background(), hidden, sources); err != nil {
			t.Fatal(err)
		}
		p, err := still.Newest(context.Background(), "news", 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := titles(p.Items); slices.Contains(got, "a5") || !slices.Contains(got, "a3") {
			t.Errorf("right after the reload: %q, want a5 gone and the rest served from the old index", got)
		}
		if p.Changed.Before(t0.AddDate(0, 0, 30)) {
			t.Errorf("Changed = %v: the hide must date the page", p.Changed)
		}
		e.configure(hidden, sources)
		e.settle()
		// Built: a's window now holds a3 and a2 (a4 stays excluded).
		if got, want := e.newest("news"), []string{"b1", "c6 shared story", "b4", "a3", "a2"}; !slices.Equal(got, want) {
			t.Errorf("members after the rebuild = %q, want %q", got, want)
		}
		names, _ := e.db.Indexes(context.Background())
		if len(names) != 1 {
			t.Errorf("indexes after the switch: %v, want the new one alone", names)
		}
	})

	t.Run("a source-level hide removes the story from every channel", func(t *testing.T) {
		sources[2].Curation.Hide = []string{"https://c.example/6"} // c is in no channel
		e.configure(channels, sources)
		if got := e.newest("news"); slices.Contains(got, "c6 shared story") {
			t.Errorf("story hidden by a carrier still served: %q", got)
		}
		e.settle()
		shared, err := e.db.Item(context.Background(), "c", item("c", 6, "").Key)
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := e.ix.ChannelsOf(context.Background(), shared); err != nil || len(ids) != 0 {
			t.Errorf("ChannelsOf a hidden story = %v, %v", ids, err)
		}
	})

	t.Run("pruned stories leave at once", func(t *testing.T) {
		if _, err := e.db.Prune(context.Background(), "b", feed.Retention{Items: 1}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		got := e.newest("news") // no settle: the prune itself took them out
		if slices.Contains(got, "b1") || !slices.Contains(got, "b4") {
			t.Errorf("members after pruning b to 1 = %q", got)
		}
	})
}

func TestMaxAge(t *testing.T) {
	e := newEnv(t)
	sources := []feed.Source{{ID: "a", Curation: feed.Curation{MaxAge: 48 * time.Hour}}, {ID: "b"}}
	channels := []feed.Channel{{ID: "fresh", Sources: []string{"a", "b"}, Limit: 10, Curation: feed.Curation{MaxAge: 96 * time.Hour}}}
	e.clk.set(t0.Add(10 * time.Hour))
	e.save("a", item("a", 1, "a1"), item("a", 5, "a5"))
	e.save("b", item("b", 2, "b2"))
	e.configure(channels, sources)
	e.settle()
	if got, want := e.newest("fresh"), []string{"a5", "b2", "a1"}; !slices.Equal(got, want) {
		t.Fatalf("members = %q, want %q", got, want)
	}
	// 49 hours after a1: a's max_age takes a1 out, exactly then.
	e.clk.set(t0.Add(49*time.Hour + time.Second))
	p, err := e.ix.Newest(context.Background(), "fresh", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := titles(p.Items); !slices.Equal(got, []string{"a5", "b2"}) {
		t.Errorf("members after 49h = %q", got)
	}
	if want := t0.Add(49 * time.Hour); !p.Changed.Equal(want) {
		t.Errorf("Changed = %v, want %v (when a1 aged out)", p.Changed, want)
	}
	// a's max_age takes a5 out at 53h; the channel's (96h) takes b2 out at
	// 98h.
	e.clk.set(t0.Add(54 * time.Hour))
	if got := e.newest("fresh"); !slices.Equal(got, []string{"b2"}) {
		t.Errorf("members after 54h = %q", got)
	}
	if err := e.ix.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _, _ := e.db.IndexState(context.Background(), Key(channels[0], sources, 3))
	if st.Count != 1 || !st.Changed.Equal(t0.Add(53*time.Hour)) {
		t.Errorf("after the sweep the index holds %d members, changed %v; want 1, at 53h", st.Count, st.Changed)
	}
	e.clk.set(t0.Add(98 * time.Hour))
	if got := e.newest("fresh"); len(got) != 0 {
		t.Errorf("members after 98h = %q", got)
	}
}

func titles(its []feed.Item) []string {
	var out []string
	for _, it := range its {
		out = append(out, it.Title)
	}
	return out
}

func TestNotReadyAndShared(t *testing.T) {
	e := newEnv(t)
	sources := []feed.Source{{ID: "a"}}
	channels := []feed.Channel{{ID: "one", Title: "One", Sources: []string{"a"}, Limit: 5}, {ID: "two", Title: "Two", Sources: []string{"a"}, Limit: 9}}
	if Key(channels[0], sources, 3) != Key(channels[1], sources, 3) {
		t.Fatal("channels defined alike get different keys")
	}
	e.save("a", item("a", 1, "a1"))
	// Configure without Run having built anything: a fresh store has no
	// index to answer from.
	ix := New(e.db, Options{PageSize: 3, Now: e.clk.Now})
	if err := ix.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Newest(context.Background(), "one", 5); !errors.Is(err, ErrNotReady) {
		t.Errorf("before the first build: %v, want ErrNotReady", err)
	}
	if _, err := ix.Newest(context.Background(), "three", 5); !errors.Is(err, ErrNoChannel) {
		t.Errorf("unknown channel: %v, want ErrNoChannel", err)
	}
	e.configure(channels, sources)
	e.settle()
	if names, _ := e.db.Indexes(context.Background()); len(names) != 1 {
		t.Errorf("two channels defined alike use %d indexes, want 1", len(names))
	}
	it, _ := e.db.Item(context.Background(), "a", item("a", 1, "").Key)
	if ids, _ := e.ix.ChannelsOf(context.Background(), it); !slices.Equal(ids, []string{"one", "two"}) {
		t.Errorf("ChannelsOf = %v", ids)
	}
	// The search index files a story once for channels defined alike.
	if labels, _ := e.ix.LabelsOf(context.Background(), it); !slices.Equal(labels, []string{"one"}) || e.ix.Label("two") != "one" {
		t.Errorf("LabelsOf = %v, Label(two) = %q; want one label for both", labels, e.ix.Label("two"))
	}
	// One of them changes: each gets its own label, and the stories are
	// written again so that the search index files them anew.
	before, _ := e.db.LastRev(context.Background())
	channels[0].Curation.Exclude = rules("nothing matches this")
	e.configure(channels, sources)
	e.settle()
	if e.ix.Label("one") != "one" || e.ix.Label("two") != "two" {
		t.Errorf("labels after the change: %q, %q", e.ix.Label("one"), e.ix.Label("two"))
	}
	if labels, _ := e.ix.LabelsOf(context.Background(), it); !slices.Equal(labels, []string{"one", "two"}) {
		t.Errorf("LabelsOf after the change = %v", labels)
	}
	if changed, _ := e.db.ItemsSince(context.Background(), before, 10); len(changed) != 1 {
		t.Errorf("%d stories written again after the labels changed, want 1", len(changed))
	}
}

func TestTouch(t *testing.T) {
	e := newEnv(t)
	sources := []feed.Source{{ID: "a"}}
	channels := []feed.Channel{{ID: "one", Sources: []string{"a"}, Limit: 5}}
	e.save("a", item("a", 1, "a1"), item("a", 2, "a2"))
	e.configure(channels, sources)
	e.settle()
	before, _ := e.db.LastRev(context.Background())
	channels[0].Curation.Hide = []string{"https://a.example/2"}
	e.configure(channels, sources)
	e.settle()
	changed, err := e.db.ItemsSince(context.Background(), before, 10)
	if err != nil {
		t.Fatal(err)
	}
	// a2 left the channel: written again for the search index; a1 did not
	// change channels and is not.
	if got := titles(changed); !slices.Equal(got, []string{"a2"}) {
		t.Errorf("written again after the hide: %q, want [a2]", got)
	}
}
