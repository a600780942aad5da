package publish

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
)

// Members is what documents are made from: the membership index, which
// alone says which items a channel contains and in what order.
//
// The cache reads it, and States, with a context of its own: a render is
// shared by every request that waits for it, so no one request's context
// may end it.
type Members interface {
	// Newest returns the channel's first n members (its subscription
	// documents publish the first Channel.Limit).
	Newest(ctx context.Context, channelID string, n int) (membership.Page, error)
	// Pages returns the number of the channel's archive pages.
	Pages(ctx context.Context, channelID string) (int, error)
	// Archive returns one archive page, oldest member first.
	Archive(ctx context.Context, channelID string, n int) (membership.ArchivePage, error)
}

// States is what the poller remembers of each source (its feed's title
// and home page), which documents name sources by.
type States interface {
	States(ctx context.Context) ([]feed.SourceState, error)
	// State returns one source's, or a feed.ENOTFOUND error.
	State(ctx context.Context, sourceID string) (feed.SourceState, error)
}

// Channel is a configured channel as documents and pages name it.
type Channel struct {
	Channel feed.Channel
	ids     []string              // the sources it selects, in config order
	names   map[string]SourceInfo // every configured source, shared by all channels
}

// SourceIDs returns the ids of the sources the channel selects, in config
// order. Do not modify.
func (c *Channel) SourceIDs() []string { return c.ids }

// Selects reports whether the channel selects source id.
func (c *Channel) Selects(id string) bool { return slices.Contains(c.ids, id) }

// Source names a source, configured or not (a story a channel shows
// through a later carrier names its first one).
func (c *Channel) Source(id string) SourceInfo {
	if si, ok := c.names[id]; ok {
		return si
	}
	return SourceInfo{ID: id, Title: id}
}

// Sources returns what the channel's items say about the sources it
// selects, by id.
func (c *Channel) Sources() map[string]SourceInfo {
	m := make(map[string]SourceInfo, len(c.ids))
	for _, id := range c.ids {
		m[id] = c.Source(id)
	}
	return m
}

// Cache renders the documents of every configured channel when they are
// first asked for, and keeps them, up to Options.MaxBytes in all (the least
// recently used go first), until what they show changes: Invalidate (the
// membership index reports a change), InvalidateSources (a poll changed a
// source's state) or Configure. Nothing is rendered ahead of a request, so
// a program with a thousand channels listens at once and holds only what
// readers ask for.
//
// Document and Archive render at most Options.Renders documents at a time,
// and one request renders a document that several ask for at once.
type Cache struct {
	m       Members
	states  States
	baseURL string
	opts    Options
	now     func() time.Time

	cur     atomic.Pointer[generation]
	docs    *docCache
	cleaned *cleanedMemo // the items' cleaned HTML, across renders

	mu   sync.Mutex // serialises Configure and InvalidateSources
	sem  chan struct{}
	seen sync.Map // seenKey of a subscription document → lastSeen
}

// generation is one immutable configuration of the cache.
type generation struct {
	channels []*Channel // config order
	byID     map[string]*Channel
	sources  []feed.Source
	names    map[string]SourceInfo
	site     feed.Site
}

// Options tunes a Cache; the zero value is usable.
type Options struct {
	// PageSize is the number of items of a full archive page
	// (DefaultPageSize when zero); the membership index cuts the pages.
	PageSize int
	// Hubs are the WebSub hubs every subscription document advertises.
	Hubs []string
	// OnChange, when set, is called by Refresh with each channel whose
	// subscription documents changed.
	OnChange func(channelID string)
	// MaxBytes bounds the rendered documents kept (DefaultMaxBytes when
	// zero).
	MaxBytes int64
	// Renders bounds the documents rendered at once (4 when zero).
	Renders int
}

// DefaultMaxBytes is Options.MaxBytes when zero.
const DefaultMaxBytes = 64 << 20

// DefaultPageSize is the number of items of a full archive page when
// Options.PageSize is zero.
const DefaultPageSize = 50

// Errors Document and Archive return.
var (
	// ErrNoChannel: the channel is not configured.
	ErrNoChannel = errors.New("no such channel")
	// ErrNoPage: the channel has no such archive page.
	ErrNoPage = errors.New("no such archive page")
)

// NewCache returns an empty cache that reads members from m and source
// states from states, and publishes under baseURL (a trailing slash is
// dropped). It serves nothing until Configure.
func NewCache(m Members, states States, baseURL string, opts ...Options) *Cache {
	c := &Cache{m: m, states: states, baseURL: strings.TrimRight(baseURL, "/"), now: time.Now}
	for _, o := range opts {
		c.opts = o
	}
	if c.opts.PageSize <= 0 {
		c.opts.PageSize = DefaultPageSize
	}
	if c.opts.MaxBytes <= 0 {
		c.opts.MaxBytes = DefaultMaxBytes
	}
	if c.opts.Renders <= 0 {
		c.opts.Renders = 4
	}
	c.sem = make(chan struct{}, c.opts.Renders)
	c.docs = newDocCache(c.opts.MaxBytes)
	c.cleaned = newCleanedMemo()
	c.cur.Store(&generation{byID: map[string]*Channel{}})
	return c
}

// Configure replaces the channels and sources the cache publishes and
// drops every rendered document. It renders nothing. It fails only when
// the source states cannot be read; the cache then keeps what it had.
func (c *Cache) Configure(channels []feed.Channel, sources []feed.Source) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	names, err := c.names(sources)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	g := &generation{byID: make(map[string]*Channel, len(channels)), sources: slices.Clone(sources), names: names,
		site: c.cur.Load().site}
	selections := map[string][]string{} // channels selecting alike share one list
	for _, ch := range channels {
		sel := strings.Join(ch.Sources, ",") + "\x00" + strings.Join(ch.Tags, ",")
		ids, ok := selections[sel]
		if !ok {
			ids = ch.SourceIDs(sources)
			selections[sel] = ids
		}
		v := &Channel{Channel: ch, ids: ids, names: names}
		g.channels = append(g.channels, v)
		g.byID[ch.ID] = v
	}
	c.cur.Store(g)
	c.docs.clear()
	return nil
}

// names reads the source states and names every configured source.
func (c *Cache) names(sources []feed.Source) (map[string]SourceInfo, error) {
	list, err := c.states.States(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read source states: %w", err)
	}
	byID := make(map[string]feed.SourceState, len(list))
	for _, s := range list {
		byID[s.SourceID] = s
	}
	out := make(map[string]SourceInfo, len(sources))
	for _, s := range sources {
		out[s.ID] = sourceInfo(s, byID[s.ID])
	}
	return out, nil
}

// SetSite replaces the identity of the site that publishes the channels
// (the documents' author) and, when it changed, drops every rendered
// document. Pages read it back with Site, so a reload renames pages and
// documents at once.
func (c *Cache) SetSite(s feed.Site) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.cur.Load()
	if g.site == s {
		return
	}
	ng := *g
	ng.site = s
	c.cur.Store(&ng)
	c.docs.clear()
}

// Site returns the identity SetSite last gave (the zero Site before).
func (c *Cache) Site() feed.Site { return c.cur.Load().site }

// Channel returns a configured channel, and false for an unknown one.
func (c *Cache) Channel(id string) (*Channel, bool) {
	ch, ok := c.cur.Load().byID[id]
	return ch, ok
}

// Channels returns every configured channel, in config order.
func (c *Cache) Channels() []*Channel {
	return slices.Clone(c.cur.Load().channels)
}

// Invalidate drops the rendered documents of the given channels, of every
// channel when none is given: what they show changed.
func (c *Cache) Invalidate(channelIDs ...string) {
	if len(channelIDs) == 0 {
		c.docs.clear()
		return
	}
	for _, id := range channelIDs {
		c.docs.drop(id)
	}
}

// InvalidateSources reads the state of the given sources again (sources
// are named by their feed's title) and drops the documents of the channels
// that select any whose name (SourceInfo) changed. One that reads as it
// did drops nothing: another instance's write of it, or the second word
// of the same poll (the change feed's), renders nothing again.
func (c *Cache) InvalidateSources(sourceIDs ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.cur.Load()
	names := maps.Clone(g.names)
	var changed []string
	for _, id := range sourceIDs {
		i := slices.IndexFunc(g.sources, func(s feed.Source) bool { return s.ID == id })
		if i < 0 {
			continue
		}
		st, err := c.states.State(context.Background(), id)
		if err != nil && feed.ErrorCode(err) != feed.ENOTFOUND {
			return fmt.Errorf("refresh source names: %w", err)
		}
		si := sourceInfo(g.sources[i], st)
		if old, ok := names[id]; ok && old.same(si) {
			continue
		}
		names[id] = si
		changed = append(changed, id)
	}
	if len(changed) == 0 {
		return nil
	}
	ng := &generation{byID: make(map[string]*Channel, len(g.channels)), sources: g.sources, names: names, site: g.site}
	for _, ch := range g.channels {
		v := &Channel{Channel: ch.Channel, ids: ch.ids, names: names}
		ng.channels = append(ng.channels, v)
		ng.byID[v.Channel.ID] = v
		if slices.ContainsFunc(changed, v.Selects) {
			c.docs.drop(v.Channel.ID)
		}
	}
	c.cur.Store(ng)
	return nil
}

// Refresh renders the subscription documents of the given channels (every
// channel when none is given) and calls OnChange for each whose Atom
// document is not the one Refresh or a reader last saw. A channel not seen
// since the program started counts as changed. Errors are joined.
func (c *Cache) Refresh(channelIDs ...string) error {
	if len(channelIDs) == 0 {
		for _, ch := range c.Channels() {
			channelIDs = append(channelIDs, ch.Channel.ID)
		}
	}
	var errs []error
	for _, id := range channelIDs {
		if _, ok := c.Channel(id); !ok {
			continue
		}
		before, _ := c.seen.Load(seenKey{id, Atom})
		d, err := c.Document(id, Atom)
		if errors.Is(err, membership.ErrNotReady) {
			continue // nothing to announce yet
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if b, ok := before.(lastSeen); (!ok || b.etag != d.ETag) && c.opts.OnChange != nil {
			c.opts.OnChange(id)
		}
	}
	return errors.Join(errs...)
}

// Document returns the subscription document of a channel in format f,
// rendered now if no copy is kept. It returns an error wrapping
// ErrNoChannel, ErrUnknownFormat, membership.ErrNotReady (the channel's
// index is being built for the first time), or a store or render error.
func (c *Cache) Document(channelID string, f Format) (*Document, error) {
	return c.get(channelID, 0, f)
}

// Archive returns archive page n of a channel in format f (see Archive
// for what pages hold), rendered now if no copy is kept. Errors are as for
// Document, and ErrNoPage for a page the channel does not have.
func (c *Cache) Archive(channelID string, n int, f Format) (*Document, error) {
	if n < 1 {
		return nil, fmt.Errorf("archive %s page %d: %w", channelID, n, ErrNoPage)
	}
	return c.get(channelID, n, f)
}

func (c *Cache) get(id string, page int, f Format) (*Document, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	ch, ok := c.Channel(id)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNoChannel, id)
	}
	docs, err := c.docs.get(docKey{id, page}, c.now(), func() (map[Format]*Document, error) {
		c.sem <- struct{}{}
		defer func() { <-c.sem }()
		if page > 0 {
			return c.renderPage(ch, page)
		}
		return c.renderFeed(ch)
	})
	if err != nil {
		return nil, err
	}
	return docs[f], nil
}

// lastSeen is the last subscription document served for a key.
type lastSeen struct {
	etag string
	lm   time.Time
}

// honestDate keeps Last-Modified moving with the bytes: a subscription
// document whose bytes changed for a reason the data does not date (a
// source's feed changed its title, the base URL changed) gets the time it
// was rendered when its own date is not later than the one served before.
func (c *Cache) honestDate(id string, d *Document) {
	k := seenKey{id, d.Format}
	prev, ok := c.seen.Load(k)
	if p, _ := prev.(lastSeen); ok && p.etag != d.ETag && !d.LastModified.After(p.lm) {
		d.LastModified = c.now().UTC().Truncate(time.Second)
		if !d.LastModified.After(p.lm) {
			d.LastModified = p.lm.Add(time.Second)
		}
	}
	c.seen.Store(k, lastSeen{d.ETag, d.LastModified})
}

type seenKey struct {
	channel string
	format  Format
}

// input is what every document of ch is made from.
func (c *Cache) input(ch *Channel) Input {
	g := c.cur.Load()
	return Input{Channel: ch.Channel, Sources: ch.Sources(), AllSources: g.names, BaseURL: c.baseURL, Site: g.site}
}

// renderFeed renders the subscription documents: the channel's first
// Limit members, read once and prepared once for every format.
func (c *Cache) renderFeed(ch *Channel) (map[Format]*Document, error) {
	p, err := c.m.Newest(context.Background(), ch.Channel.ID, ch.Channel.Limit)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", ch.Channel.ID, err)
	}
	pages, err := c.m.Pages(context.Background(), ch.Channel.ID)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", ch.Channel.ID, err)
	}
	in := c.input(ch)
	in.Items, in.Hubs, in.Archive = p.Items, c.opts.Hubs, Archive{Pages: pages}
	docs, err := c.renderAll(in, p.Changed, p.Expires)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		c.honestDate(ch.Channel.ID, d)
	}
	return docs, nil
}

// renderPage renders archive page n in every format.
func (c *Cache) renderPage(ch *Channel, n int) (map[Format]*Document, error) {
	ap, err := c.m.Archive(context.Background(), ch.Channel.ID, n)
	if feed.ErrorCode(err) == feed.ENOTFOUND && !errors.Is(err, membership.ErrNoChannel) {
		return nil, fmt.Errorf("archive %s page %d: %w", ch.Channel.ID, n, ErrNoPage)
	}
	if err != nil {
		return nil, fmt.Errorf("archive %s page %d: %w", ch.Channel.ID, n, err)
	}
	in := c.input(ch)
	in.Items, in.Archive = newestFirst(ap.Items), Archive{Page: n, Pages: ap.Pages}
	return c.renderAll(in, ap.Changed, ap.Expires)
}

// renderAll prepares in once and renders it in every format.
func (c *Cache) renderAll(in Input, changed, expires time.Time) (map[Format]*Document, error) {
	in = prepare(in, c.cleaned)
	now := c.now()
	docs := make(map[Format]*Document, len(Formats))
	for _, f := range Formats {
		d, err := newDocument(in, f, changed, now)
		if err != nil {
			return nil, err
		}
		d.expires = expires
		docs[f] = d
	}
	return docs, nil
}

// sourceInfo is what items of s say about it, from its config and, once
// polled, its state.
// same reports whether a and b name a source alike in every document.
func (a SourceInfo) same(b SourceInfo) bool {
	return a.ID == b.ID && a.Title == b.Title && a.FeedURL == b.FeedURL && a.Link == b.Link && a.Updated.Equal(b.Updated)
}

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

// docKey names the rendered documents of one page in every format: page
// 0 is the subscription document.
type docKey struct {
	channel string
	page    int
}

// docCache keeps rendered documents up to max bytes, least recently used
// dropped first, and renders each missing document once however many ask
// for it at the same time. Safe for concurrent use.
type docCache struct {
	mu       sync.Mutex
	max      int64
	size     int64
	order    *list.List // of *docEntry, most recent first
	entries  map[docKey]*list.Element
	inflight map[docKey]*inflight
	// version counts each channel's invalidations, so that a render that
	// began before one is not kept.
	version map[string]uint64
	epoch   uint64 // counts clears
}

type docEntry struct {
	key  docKey
	docs map[Format]*Document
	size int64
}

type inflight struct {
	done chan struct{}
	docs map[Format]*Document
	err  error
}

func newDocCache(max int64) *docCache {
	return &docCache{max: max, order: list.New(), entries: map[docKey]*list.Element{},
		inflight: map[docKey]*inflight{}, version: map[string]uint64{}}
}

// get returns the kept documents of k, unless age has taken one of their
// items out since, else renders them with build (once for all who ask).
func (dc *docCache) get(k docKey, now time.Time, build func() (map[Format]*Document, error)) (map[Format]*Document, error) {
	dc.mu.Lock()
	if e, ok := dc.entries[k]; ok {
		de := e.Value.(*docEntry)
		if exp := de.docs[Atom].expires; exp.IsZero() || now.Before(exp) {
			dc.order.MoveToFront(e)
			dc.mu.Unlock()
			return de.docs, nil
		}
		dc.remove(e)
	}
	if r, ok := dc.inflight[k]; ok {
		dc.mu.Unlock()
		<-r.done
		return r.docs, r.err
	}
	r := &inflight{done: make(chan struct{})}
	dc.inflight[k] = r
	version, epoch := dc.version[k.channel], dc.epoch
	dc.mu.Unlock()

	r.docs, r.err = build()

	dc.mu.Lock()
	delete(dc.inflight, k)
	if r.err == nil && dc.version[k.channel] == version && dc.epoch == epoch {
		dc.put(k, r.docs)
	}
	dc.mu.Unlock()
	close(r.done)
	return r.docs, r.err
}

// docSize is what a document is counted as: its bytes and room for its
// gzip.
func docSize(d *Document) int64 { return int64(len(d.Body)+len(d.Body)/4) + 256 }

func (dc *docCache) put(k docKey, docs map[Format]*Document) {
	if e, ok := dc.entries[k]; ok {
		dc.remove(e)
	}
	var n int64
	for _, d := range docs {
		n += docSize(d)
	}
	if n > dc.max {
		return // larger than the whole cache: served, not kept
	}
	dc.entries[k] = dc.order.PushFront(&docEntry{key: k, docs: docs, size: n})
	dc.size += n
	for dc.size > dc.max {
		dc.remove(dc.order.Back())
	}
}

func (dc *docCache) remove(e *list.Element) {
	de := e.Value.(*docEntry)
	dc.order.Remove(e)
	delete(dc.entries, de.key)
	dc.size -= de.size
}

// drop removes every document of a channel.
func (dc *docCache) drop(channel string) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	dc.version[channel]++
	for e := dc.order.Front(); e != nil; {
		next := e.Next()
		if e.Value.(*docEntry).key.channel == channel {
			dc.remove(e)
		}
		e = next
	}
}

func (dc *docCache) clear() {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	dc.epoch++
	dc.order.Init()
	clear(dc.entries)
	dc.size = 0
}

// Bytes returns the bytes the kept documents are counted as, and how many
// pages (in every format) are kept.
func (c *Cache) Bytes() (int64, int) {
	c.docs.mu.Lock()
	defer c.docs.mu.Unlock()
	return c.docs.size, len(c.docs.entries)
}
