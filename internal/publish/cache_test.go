package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
)

// fakeMembers is a membership index in memory that counts what it is
// asked: each channel's members newest first, and archive pages of 2.
type fakeMembers struct {
	mu      sync.Mutex
	items   map[string][]feed.Item // by channel, newest first
	changed time.Time
	expires time.Time
	err     error
	block   chan struct{} // when set, reads wait for it to close
	reads   int
}

func (m *fakeMembers) wait() {
	m.mu.Lock()
	b := m.block
	m.mu.Unlock()
	if b != nil {
		<-b
	}
}

func (m *fakeMembers) Newest(_ context.Context, id string, n int) (membership.Page, error) {
	m.wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.err != nil {
		return membership.Page{}, m.err
	}
	its := m.items[id]
	return membership.Page{Items: slices.Clone(its[:min(n, len(its))]), More: len(its) > n, Changed: m.changed, Expires: m.expires}, nil
}

func (m *fakeMembers) Pages(_ context.Context, id string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return (len(m.items[id]) + 1) / 2, m.err
}

func (m *fakeMembers) Archive(_ context.Context, id string, n int) (membership.ArchivePage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	its := slices.Clone(m.items[id])
	slices.Reverse(its) // oldest first
	pages := (len(its) + 1) / 2
	if n < 1 || n > pages {
		return membership.ArchivePage{}, feed.Errorf(feed.ENOTFOUND, "no page %d", n)
	}
	return membership.ArchivePage{Number: n, Pages: pages, Items: its[(n-1)*2 : min(n*2, len(its))], Changed: m.changed}, nil
}

func (m *fakeMembers) add(ch string, it feed.Item) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[ch] = append([]feed.Item{it}, m.items[ch]...)
}

func (m *fakeMembers) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.reads
	m.reads = 0
	return n
}

type fakeStates []feed.SourceState

func (s fakeStates) States(context.Context) ([]feed.SourceState, error) { return s, nil }

func (s fakeStates) State(_ context.Context, id string) (feed.SourceState, error) {
	for _, st := range s {
		if st.SourceID == id {
			return st, nil
		}
	}
	return feed.SourceState{}, feed.Errorf(feed.ENOTFOUND, "no state")
}

var (
	testSources = []feed.Source{
		{ID: "a", URL: "https://a.example/feed", Title: "Source A"},
		{ID: "b", URL: "https://b.example/feed", Tags: []string{"bee"}},
	}
	testChannels = []feed.Channel{
		{ID: "only-a", Title: "Only A", Sources: []string{"a"}, Limit: 2},
		{ID: "bees", Title: "Bees", Tags: []string{"bee"}, Limit: 10},
		{ID: "none", Title: "None", Sources: []string{"missing"}, Limit: 10},
	}
)

// story is item n of src, n minutes after a fixed time.
func story(src string, n int) feed.Item {
	it := testItem(src, fmt.Sprintf("id:%s-%d", src, n))
	it.ID = fmt.Sprintf("https://%s.example/%d", src, n)
	it.Link, it.Title = it.ID, fmt.Sprintf("%s %d", src, n)
	it.Published = it.Published.Add(time.Duration(n) * time.Minute)
	it.Updated = it.Published
	return it
}

func newTestCache(t *testing.T, opts ...Options) (*Cache, *fakeMembers) {
	t.Helper()
	m := &fakeMembers{items: map[string][]feed.Item{}}
	for n := range 3 {
		m.add("only-a", story("a", n))
		m.add("bees", story("b", n))
	}
	states := fakeStates{{SourceID: "b", URL: "https://b.example/moved", Title: "B's own title", Link: "https://b.example/"}}
	c := NewCache(m, states, testBase+"/", opts...)
	if err := c.Configure(testChannels, testSources); err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestCacheRendersOnFirstRequestOnly(t *testing.T) {
	c, m := newTestCache(t)
	if n := m.count(); n != 0 {
		t.Errorf("Configure read %d times; it must render nothing", n)
	}
	var ids []string
	for _, ch := range c.Channels() {
		ids = append(ids, ch.Channel.ID)
	}
	if want := []string{"only-a", "bees", "none"}; !slices.Equal(ids, want) {
		t.Errorf("Channels = %q, want config order %q", ids, want)
	}
	d, err := c.Document("only-a", RSS)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := c.Channel("only-a")
	want, err := Render(Input{Channel: ch.Channel, Items: []feed.Item{story("a", 2), story("a", 1)}, Sources: ch.Sources(),
		BaseURL: testBase, Archive: Archive{Pages: 2}}, RSS)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Body, want) || d.ETag != etag(d.Body) {
		t.Errorf("document differs from Render of the channel's first Limit members (base URL not trimmed?)")
	}
	for range 5 {
		if again, _ := c.Document("only-a", RSS); again != d {
			t.Error("a kept document was rendered again")
		}
	}
	for _, f := range Formats {
		if _, err := c.Document("only-a", f); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.count(); n != 1 {
		t.Errorf("%d reads of the index for a channel's documents asked nine times, want 1", n)
	}
	if _, err := c.Document("nope", Atom); !errors.Is(err, ErrNoChannel) {
		t.Errorf("unknown channel: %v", err)
	}
	if _, err := c.Document("bees", "xml"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
	if b, _ := c.Channel("bees"); b.Source("b").Title != "B's own title" || b.Source("zzz").Title != "zzz" {
		t.Errorf("sources named %+v, %+v", b.Source("b"), b.Source("zzz"))
	}
}

func TestCacheInvalidate(t *testing.T) {
	c, m := newTestCache(t)
	first, _ := c.Document("bees", Atom)
	other, _ := c.Document("only-a", Atom)
	c.Invalidate("bees") // nothing changed: same bytes, same tag
	same, _ := c.Document("bees", Atom)
	if same == first || same.ETag != first.ETag || !bytes.Equal(same.Body, first.Body) {
		t.Error("re-rendering an unchanged channel changed its bytes or kept the old copy")
	}
	if again, _ := c.Document("only-a", Atom); again != other {
		t.Error("invalidating one channel dropped another's documents")
	}
	m.add("bees", story("b", 10))
	c.Invalidate("bees")
	after, _ := c.Document("bees", Atom)
	if after.ETag == first.ETag {
		t.Error("ETag unchanged after a new member")
	}
	if err := c.Configure(testChannels[1:2], testSources); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Document("only-a", Atom); !errors.Is(err, ErrNoChannel) {
		t.Errorf("a channel dropped from the config is still published: %v", err)
	}
}

// TestCacheMemoryBoundedByBytes is issue 16 case 9: documents are kept up
// to MaxBytes, whatever the number of channels asked for.
func TestCacheMemoryBoundedByBytes(t *testing.T) {
	m := &fakeMembers{items: map[string][]feed.Item{}}
	var channels []feed.Channel
	for i := range 200 {
		id := fmt.Sprintf("c%d", i)
		channels = append(channels, feed.Channel{ID: id, Title: id, Sources: []string{"a"}, Limit: 20})
		for n := range 20 {
			m.add(id, story("a", n))
		}
	}
	const max = 200_000
	c := NewCache(m, fakeStates{}, testBase, Options{MaxBytes: max})
	if err := c.Configure(channels, testSources); err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, ch := range channels {
		d, err := c.Document(ch.ID, Atom)
		if err != nil {
			t.Fatal(err)
		}
		total += 3 * docSize(d)
		if n, _ := c.Bytes(); n > max {
			t.Fatalf("after %s: %d bytes kept, more than %d", ch.ID, n, max)
		}
	}
	n, docs := c.Bytes()
	if total <= max || docs == 0 || docs >= len(channels) || n < max/2 {
		t.Errorf("kept %d documents, %d bytes, of %d rendered (%d bytes)", docs, n, len(channels), total)
	}
}

func TestCacheRendersOnceForConcurrentRequests(t *testing.T) {
	c, m := newTestCache(t)
	m.block = make(chan struct{})
	var wg sync.WaitGroup
	docs := make([]*Document, 8)
	for i := range docs {
		wg.Go(func() { docs[i], _ = c.Document("bees", JSON) })
	}
	time.Sleep(20 * time.Millisecond) // let them all ask
	close(m.block)
	wg.Wait()
	for _, d := range docs {
		if d == nil || d != docs[0] {
			t.Fatal("concurrent requests got different renders")
		}
	}
	if n := m.count(); n != 1 {
		t.Errorf("%d renders for 8 concurrent requests, want 1", n)
	}
}

func TestCacheLastModified(t *testing.T) {
	clk := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, m := newTestCache(t)
	c.now = func() time.Time { return clk }
	newest := story("b", 2).Updated
	d, _ := c.Document("bees", Atom)
	if !d.LastModified.Equal(newest.Truncate(time.Second)) {
		t.Errorf("LastModified = %v, want the newest item's Updated %v", d.LastModified, newest)
	}
	// A hide: the list changed later than any item did.
	hidden := newest.Add(time.Hour)
	m.mu.Lock()
	m.items["bees"], m.changed = m.items["bees"][1:], hidden
	m.mu.Unlock()
	c.Invalidate("bees")
	d, _ = c.Document("bees", Atom)
	if !d.LastModified.Equal(hidden) {
		t.Errorf("after a hide LastModified = %v, want %v", d.LastModified, hidden)
	}
	// Bytes that change with nothing in the data to date it (a source's
	// title): the date of the render, never an older one.
	if err := c.Configure([]feed.Channel{{ID: "bees", Title: "Bees, renamed", Tags: []string{"bee"}, Limit: 10}}, testSources); err != nil {
		t.Fatal(err)
	}
	d2, _ := c.Document("bees", Atom)
	if d2.ETag == d.ETag || !d2.LastModified.After(d.LastModified) || !d2.LastModified.Equal(clk) {
		t.Errorf("renamed: LastModified %v (was %v), want the render's %v", d2.LastModified, d.LastModified, clk)
	}
	// Age: a copy is kept until one of its items ages out.
	m.mu.Lock()
	m.expires = clk.Add(time.Minute)
	m.mu.Unlock()
	c.Invalidate("bees")
	d3, _ := c.Document("bees", Atom)
	if again, _ := c.Document("bees", Atom); again != d3 {
		t.Error("a copy was rendered again before it expired")
	}
	c.now = func() time.Time { return clk.Add(time.Minute) }
	if again, _ := c.Document("bees", Atom); again == d3 {
		t.Error("a copy outlived the age of one of its items")
	}
}

func TestCacheRefreshCallsOnChange(t *testing.T) {
	var mu sync.Mutex
	var changed []string
	c, m := newTestCache(t, Options{OnChange: func(id string) {
		mu.Lock()
		changed = append(changed, id)
		mu.Unlock()
	}})
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := changed
		changed = nil
		return out
	}
	if err := c.Refresh("bees", "only-a"); err != nil {
		t.Fatal(err)
	}
	if g := got(); !slices.Equal(g, []string{"bees", "only-a"}) {
		t.Errorf("first refresh announced %q: unseen channels count as changed", g)
	}
	c.Invalidate()
	if err := c.Refresh("bees", "only-a"); err != nil {
		t.Fatal(err)
	}
	if g := got(); len(g) != 0 {
		t.Errorf("a refresh with nothing new announced %q", g)
	}
	m.add("bees", story("b", 20))
	c.Invalidate("bees")
	if err := c.Refresh("bees", "only-a"); err != nil {
		t.Fatal(err)
	}
	if g := got(); !slices.Equal(g, []string{"bees"}) {
		t.Errorf("after a new member of bees: announced %q", g)
	}
	m.err = membership.ErrNotReady
	c.Invalidate()
	if err := c.Refresh(); err != nil {
		t.Errorf("a channel not built yet is an error to Refresh: %v", err)
	}
}

func TestCacheArchive(t *testing.T) {
	c, _ := newTestCache(t)
	d, err := c.Archive("bees", 1, Atom)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(d.Body, []byte("b 0")) || !bytes.Contains(d.Body, []byte("b 1")) || bytes.Contains(d.Body, []byte("b 2<")) {
		t.Errorf("page 1 does not hold the two oldest members:\n%s", d.Body)
	}
	if !bytes.Contains(d.Body, []byte("<fh:archive")) {
		t.Error("a full page lacks fh:archive")
	}
	for _, n := range []int{0, 3} {
		if _, err := c.Archive("bees", n, Atom); !errors.Is(err, ErrNoPage) {
			t.Errorf("page %d: %v, want ErrNoPage", n, err)
		}
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

func TestCacheInvalidateSources(t *testing.T) {
	m := &fakeMembers{items: map[string][]feed.Item{"bees": {story("b", 1)}}}
	states := fakeStates{{SourceID: "b", Title: "Old title"}}
	c := NewCache(m, states, testBase)
	if err := c.Configure(testChannels, testSources); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Document("bees", Atom)
	states[0].Title = "New title" // the source's feed renamed itself
	if err := c.InvalidateSources("b"); err != nil {
		t.Fatal(err)
	}
	if ch, _ := c.Channel("bees"); ch.Source("b").Title != "New title" {
		t.Errorf("source named %q after InvalidateSources", ch.Source("b").Title)
	}
	after, _ := c.Document("bees", Atom)
	if after == before || !bytes.Contains(after.Body, []byte("New title")) {
		t.Error("the channel's documents were not rendered again with the new name")
	}
	// Read again as it was (another instance's write of the source, the
	// change feed's second word of one poll): nothing is rendered again.
	if err := c.InvalidateSources("b"); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Document("bees", Atom); again != after {
		t.Error("a source whose name did not change dropped the channel's documents")
	}
}

// TestCacheSetSite: a new site identity re-renders every document with its
// author (a reload renames the feeds), survives Configure and
// InvalidateSources, and the same identity again keeps what is rendered.
func TestCacheSetSite(t *testing.T) {
	c, _ := newTestCache(t)
	site := feed.Site{Title: "The Institute", Language: "en"}
	c.SetSite(site)
	first, err := c.Document("bees", Atom)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(first.Body, []byte("<name>The Institute</name>")) || c.Site() != site {
		t.Errorf("Site() = %+v; document:\n%s", c.Site(), first.Body)
	}
	c.SetSite(site)
	if again, _ := c.Document("bees", Atom); again != first {
		t.Error("setting the same site dropped the rendered documents")
	}
	c.SetSite(feed.Site{Title: "The Institute, renamed", Language: "en"})
	renamed, _ := c.Document("bees", Atom)
	if renamed.ETag == first.ETag || !bytes.Contains(renamed.Body, []byte("<name>The Institute, renamed</name>")) {
		t.Errorf("a renamed site kept the old document:\n%s", renamed.Body)
	}
	if err := c.Configure(testChannels, testSources); err != nil {
		t.Fatal(err)
	}
	if err := c.InvalidateSources("b"); err != nil {
		t.Fatal(err)
	}
	if got := c.Site().Title; got != "The Institute, renamed" {
		t.Errorf("after Configure and InvalidateSources the site is %q", got)
	}
}
