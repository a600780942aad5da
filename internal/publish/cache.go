package publish

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Reader is what the cache needs from the store.
type Reader interface {
	// Items returns the newest items of the given sources, newest first,
	// at most limit of them.
	Items(sourceIDs []string, limit int) ([]feed.Item, error)
	// ItemsAfter pages on from Items: up to limit items that come after
	// the item after in the same order (Items when after is nil).
	ItemsAfter(sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error)
	// Lookup returns the items of the given sources stored under any of
	// keys, skipping keys not found.
	Lookup(sourceIDs, keys []string) ([]feed.Item, error)
	// States returns what the poller remembers of every source it polled.
	States() ([]feed.SourceState, error)
}

// Snapshot is one channel as published: its items and its documents in
// every format. A snapshot is immutable; a refresh makes a new one.
// Callers must not modify anything they reach through it.
type Snapshot struct {
	Channel feed.Channel
	Items   []feed.Item           // pinned first, then newest first; at most Channel.Limit
	Pinned  int                   // how many of Items are pinned
	Sources map[string]SourceInfo // every source the channel selects, by id
	// AllSources is every configured source, by id: it names the origins of
	// merged stories (Item.Origins), which may be sources the channel does
	// not select.
	AllSources map[string]SourceInfo
	Updated    time.Time            // the time the documents give as the channel's last update
	Docs       map[Format]*Document // one per format of Formats
	// Pages is the number of archive pages (see Archive), the open one
	// included; 0 when the store keeps no archive order.
	Pages int
	// OpenPage holds the documents of the open (last) archive page.
	OpenPage map[Format]*Document
	ids      []string // the sources selected, for archive pages
}

// Cache holds the published snapshot of every configured channel.
//
// Snapshot and Channels read an immutable generation through an atomic
// pointer: they never wait for a render nor query the store. Configure and
// Refresh render off to the side, one at a time, and swap the new
// generation in when done.
type Cache struct {
	r       Reader
	baseURL string
	opts    Options
	pages   *pageCache

	now func() time.Time // clock for max_age; time.Now

	mu  sync.Mutex // serialises Configure and Refresh; readers never take it
	cur atomic.Pointer[generation]
}

// generation is one immutable state of the cache.
type generation struct {
	channels []feed.Channel
	sources  []feed.Source
	snaps    []*Snapshot // one per channel, in config order
	byID     map[string]*Snapshot
}

// NewCache returns an empty cache that reads items from r and publishes
// under baseURL (a trailing slash is dropped). It renders nothing until
// Configure.
func NewCache(r Reader, baseURL string, opts ...Options) *Cache {
	c := &Cache{r: r, baseURL: strings.TrimRight(baseURL, "/"), pages: newPageCache(maxFullPages), now: time.Now}
	for _, o := range opts {
		c.opts = o
	}
	if c.opts.PageSize <= 0 {
		c.opts.PageSize = DefaultPageSize
	}
	c.cur.Store(&generation{})
	return c
}

// Configure replaces the channels and sources the cache publishes and
// renders every channel. It is all or nothing: on error (the store failed,
// or a document did not render) the cache keeps publishing what it had.
func (c *Cache) Configure(channels []feed.Channel, sources []feed.Source) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := &generation{
		channels: slices.Clone(channels),
		sources:  slices.Clone(sources),
		snaps:    make([]*Snapshot, len(channels)),
		byID:     make(map[string]*Snapshot, len(channels)),
	}
	states, err := c.states()
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	for i, ch := range g.channels {
		s, err := c.render(ch, g.sources, states)
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		g.snaps[i] = s
		g.byID[ch.ID] = s
	}
	c.pages.reset() // a channel may select other sources now
	c.cur.Store(g)
	return nil
}

// Refresh re-renders the channels that select any of the given sources,
// or every channel when no id is given; ids of unknown sources select
// nothing. A channel that fails to render keeps its previous snapshot and
// its error is returned, joined with the others'.
func (c *Cache) Refresh(sourceIDs ...string) error {
	changed, err := c.refresh(sourceIDs)
	if c.opts.OnChange != nil {
		for _, s := range changed {
			c.opts.OnChange(s)
		}
	}
	return err
}

// refresh does Refresh's work under the lock and returns the snapshots
// whose subscription documents changed.
func (c *Cache) refresh(sourceIDs []string) ([]*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	var todo []int
	for i, ch := range old.channels {
		if len(sourceIDs) == 0 || selectsAny(ch, old.sources, sourceIDs) {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	states, err := c.states()
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	g := &generation{
		channels: old.channels,
		sources:  old.sources,
		snaps:    slices.Clone(old.snaps),
		byID:     maps.Clone(old.byID),
	}
	var (
		errs    []error
		changed []*Snapshot
	)
	for _, i := range todo {
		s, err := c.render(old.channels[i], old.sources, states)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev := old.snaps[i]; prev == nil || prev.Docs[Atom].ETag != s.Docs[Atom].ETag {
			changed = append(changed, s)
		}
		g.snaps[i] = s
		g.byID[s.Channel.ID] = s
	}
	c.cur.Store(g)
	if err := errors.Join(errs...); err != nil {
		return changed, fmt.Errorf("refresh: %w", err)
	}
	return changed, nil
}

// Snapshot returns the published state of a channel, and false for an
// unknown channel. It never blocks on a render.
func (c *Cache) Snapshot(channelID string) (*Snapshot, bool) {
	s, ok := c.cur.Load().byID[channelID]
	return s, ok
}

// Channels returns every channel's snapshot, in config order.
func (c *Cache) Channels() []*Snapshot {
	return slices.Clone(c.cur.Load().snaps)
}

// states returns the store's source states by source id.
func (c *Cache) states() (map[string]feed.SourceState, error) {
	list, err := c.r.States()
	if err != nil {
		return nil, fmt.Errorf("read source states: %w", err)
	}
	m := make(map[string]feed.SourceState, len(list))
	for _, s := range list {
		m[s.SourceID] = s
	}
	return m, nil
}

// render reads a channel's items and renders its documents.
func (c *Cache) render(ch feed.Channel, sources []feed.Source, states map[string]feed.SourceState) (*Snapshot, error) {
	in := Input{Channel: ch, Sources: make(map[string]SourceInfo), BaseURL: c.baseURL, Hubs: c.opts.Hubs,
		AllSources: make(map[string]SourceInfo, len(sources))}
	var ids []string
	for _, s := range sources {
		si := sourceInfo(s, states[s.ID])
		in.AllSources[s.ID] = si
		if ch.Selects(s) {
			ids = append(ids, s.ID)
			in.Sources[s.ID] = si
		}
	}
	var pinned int
	if len(ids) > 0 { // never ask the store about "no sources"
		sel, err := Select(c.r, ch, sources, c.now())
		if err != nil {
			return nil, fmt.Errorf("channel %s: read items: %w", ch.ID, err)
		}
		in.Items, pinned = sel.Items, sel.Pinned
	}
	snap := &Snapshot{Channel: ch, Items: in.Items, Sources: in.Sources, Updated: feedUpdated(in), ids: ids}
	if err := c.renderOpenPage(snap, in); err != nil {
		return nil, err
	}
	in.Archive = Archive{Pages: snap.Pages}
	docs, err := renderAll(in)
	if err != nil {
		return nil, err
	}
	snap.Pinned = pinned
	snap.AllSources = in.AllSources
	snap.Docs = docs
	return snap, nil
}

// sourceInfo is what items of s say about it, from its config and, once
// polled, its state.
func sourceInfo(s feed.Source, st feed.SourceState) SourceInfo {
	si := SourceInfo{ID: s.ID, Title: s.Title, FeedURL: s.URL, Link: st.Link, Updated: st.LastSuccess}
	if si.Title == "" {
		si.Title = st.Title
	}
	if si.Title == "" {
		si.Title = s.ID
	}
	if st.URL != "" {
		si.FeedURL = st.URL
	}
	if si.Link == "" {
		si.Link = si.FeedURL
	}
	return si
}

// selectsAny reports whether ch selects any configured source named in ids.
func selectsAny(ch feed.Channel, sources []feed.Source, ids []string) bool {
	for _, s := range sources {
		if slices.Contains(ids, s.ID) && ch.Selects(s) {
			return true
		}
	}
	return false
}
