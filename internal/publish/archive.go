package publish

import (
	"container/list"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Archive is where a document stands in its channel's history (RFC 5005
// §4, archived feeds). A channel's items, in the order they were first
// stored, are cut into pages of a fixed size: page 1 holds the oldest.
// Every page but the last is full and never changes again; the last page
// (Pages) is open, holds the remainder (possibly none), and changes as
// items arrive. The subscription document (Page 0) holds the newest items
// and links the open page as prev-archive; each page links the one before
// as prev-archive, the one after as next-archive, and the subscription
// document as current. Walking prev-archive from the subscription document
// visits every item once in the pages. Only full pages carry fh:archive:
// the open page is not an archive yet, since it still changes.
type Archive struct {
	Page  int // this page's number, from 1; 0 for the subscription document
	Pages int // the number of pages, the open one included; 0 when the channel has no archive
}

// IsPage reports whether the document is an archive page.
func (a Archive) IsPage() bool { return a.Page > 0 }

// Full reports whether the document is an archive page that will never
// change again (it is not the open page).
func (a Archive) Full() bool { return a.Page > 0 && a.Page < a.Pages }

// selfURL is the URL the document of format f for in is served at.
func selfURL(in Input, f Format) string {
	if in.Archive.IsPage() {
		return archiveURL(in.BaseURL, in.Channel.ID, in.Archive.Page, f)
	}
	return feedURL(in.BaseURL, in.Channel.ID, f)
}

// historyLink is one RFC 5005 link of a document.
type historyLink struct {
	Rel, Href string
}

// historyLinks returns the prev-archive, next-archive and current links of
// the document of format f for in.
func historyLinks(in Input, f Format) []historyLink {
	a := in.Archive
	var out []historyLink
	switch {
	case a.Pages <= 0:
	case !a.IsPage():
		out = append(out, historyLink{"prev-archive", archiveURL(in.BaseURL, in.Channel.ID, a.Pages, f)})
	default:
		out = append(out, historyLink{"current", feedURL(in.BaseURL, in.Channel.ID, f)})
		if a.Page > 1 {
			out = append(out, historyLink{"prev-archive", archiveURL(in.BaseURL, in.Channel.ID, a.Page-1, f)})
		}
		if a.Page < a.Pages {
			out = append(out, historyLink{"next-archive", archiveURL(in.BaseURL, in.Channel.ID, a.Page+1, f)})
		}
	}
	return out
}

// historyNS is RFC 5005's namespace, for <fh:archive/>.
const historyNS = "http://purl.org/syndication/history/1.0"

// via is one other source's copy of an item: its link and the source's name.
type via struct {
	Href, Title string
}

// viaLinks returns the copies of it that other sources carried
// ([feed.Item.Origins]), leaving out the item's own copy and any without an
// http(s) link.
// One link per source: a source may have listed two copies of a story.
func viaLinks(it feed.Item, sources map[string]SourceInfo) []via {
	var out []via
	seen := map[string]bool{it.SourceID: true}
	for _, o := range it.Origins {
		if seen[o.SourceID] || !isHTTPURL(o.Link) {
			continue
		}
		seen[o.SourceID] = true
		title := o.SourceID
		if si, ok := sources[o.SourceID]; ok && si.Title != "" {
			title = si.Title
		}
		out = append(out, via{Href: o.Link, Title: title})
	}
	return out
}

// DefaultPageSize is the number of items of a full archive page when
// Options.PageSize is zero.
const DefaultPageSize = 50

// maxFullPages bounds the full archive pages a Cache keeps rendered; one
// asked for again after it was dropped is rendered again, to the same
// bytes.
const maxFullPages = 512

// Options tunes a Cache; the zero value is usable.
type Options struct {
	// PageSize is the number of items of a full archive page
	// (DefaultPageSize when zero). Changing it renumbers every page.
	PageSize int
	// Hubs are the WebSub hubs every subscription document advertises.
	Hubs []string
	// OnChange, when set, is called after Refresh with each channel whose
	// subscription documents changed, outside the cache's lock. It must
	// not block for long: polls wait for it.
	OnChange func(*Snapshot)
}

// ArchiveReader is what archive pages need from the store: the items of
// some sources in the order they were first stored. A Reader that does not
// implement it gives channels without archives.
type ArchiveReader interface {
	// SeqItems returns the items at positions skip to skip+limit-1 of the
	// sources' first-stored order and the number of positions in all.
	SeqItems(sourceIDs []string, skip, limit int) ([]feed.Item, int, error)
}

// ErrNoPage is returned by Cache.Archive for a page the channel does not have.
var ErrNoPage = errors.New("no such archive page")

// renderOpenPage counts the channel's archive pages and renders the open
// one into snap; it does nothing when the store keeps no archive order.
func (c *Cache) renderOpenPage(snap *Snapshot, in Input) error {
	ar, ok := c.r.(ArchiveReader)
	if !ok || len(snap.ids) == 0 {
		return nil
	}
	size := c.opts.PageSize
	_, total, err := ar.SeqItems(snap.ids, 0, 0)
	if err != nil {
		return fmt.Errorf("channel %s: archive: %w", snap.Channel.ID, err)
	}
	snap.Pages = total/size + 1
	items, _, err := ar.SeqItems(snap.ids, (snap.Pages-1)*size, size)
	if err != nil {
		return fmt.Errorf("channel %s: archive: %w", snap.Channel.ID, err)
	}
	page := in
	page.Hubs = nil
	page.Items = newestFirst(items)
	page.Archive = Archive{Page: snap.Pages, Pages: snap.Pages}
	docs, err := renderAll(page)
	if err != nil {
		return err
	}
	snap.OpenPage = docs
	return nil
}

// Archive returns the document of the given archive page of a channel in
// format f. The open page comes from the snapshot; a full page is rendered
// from the store when first asked for, then kept (up to maxFullPages). It
// returns an error wrapping ErrNoPage for an unknown channel or a page out
// of range, and a store or render error otherwise.
func (c *Cache) Archive(channelID string, page int, f Format) (*Document, error) {
	snap, ok := c.Snapshot(channelID)
	if !ok || page < 1 || page > snap.Pages {
		return nil, fmt.Errorf("archive %s page %d: %w", channelID, page, ErrNoPage)
	}
	if page == snap.Pages {
		if d := snap.OpenPage[f]; d != nil {
			return d, nil
		}
		return nil, fmt.Errorf("archive %s page %d %s: %w", channelID, page, f, ErrUnknownFormat)
	}
	key := pageKey{channelID, page}
	if docs := c.pages.get(key); docs != nil {
		if d := docs[f]; d != nil {
			return d, nil
		}
		return nil, fmt.Errorf("archive %s page %d %s: %w", channelID, page, f, ErrUnknownFormat)
	}
	ar := c.r.(ArchiveReader) // Pages > 0 only when it is one
	size := c.opts.PageSize
	items, _, err := ar.SeqItems(snap.ids, (page-1)*size, size)
	if err != nil {
		return nil, fmt.Errorf("archive %s page %d: %w", channelID, page, err)
	}
	in := Input{
		Channel: snap.Channel, Items: newestFirst(items), Sources: snap.Sources, BaseURL: c.baseURL,
		Archive: Archive{Page: page, Pages: snap.Pages},
	}
	docs, err := renderAll(in)
	if err != nil {
		return nil, fmt.Errorf("archive %s page %d: %w", channelID, page, err)
	}
	c.pages.put(key, docs)
	if d := docs[f]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("archive %s page %d %s: %w", channelID, page, f, ErrUnknownFormat)
}

// newestFirst reverses items (in Seq order) so that a page lists its
// newest item first, as feeds do.
func newestFirst(items []feed.Item) []feed.Item {
	slices.Reverse(items)
	return items
}

type pageKey struct {
	channel string
	page    int
}

// pageCache keeps the documents of full archive pages, dropping the least
// recently used beyond its bound. Safe for concurrent use.
type pageCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of pageKey, most recent first
	docs  map[pageKey]pageEntry
}

type pageEntry struct {
	docs map[Format]*Document
	elem *list.Element
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, order: list.New(), docs: map[pageKey]pageEntry{}}
}

func (p *pageCache) get(k pageKey) map[Format]*Document {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.docs[k]
	if !ok {
		return nil
	}
	p.order.MoveToFront(e.elem)
	return e.docs
}

func (p *pageCache) put(k pageKey, docs map[Format]*Document) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.docs[k]; ok {
		p.order.MoveToFront(e.elem)
		return
	}
	p.docs[k] = pageEntry{docs: docs, elem: p.order.PushFront(k)}
	for p.order.Len() > p.max {
		last := p.order.Back()
		p.order.Remove(last)
		delete(p.docs, last.Value.(pageKey))
	}
}

func (p *pageCache) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order.Init()
	clear(p.docs)
}
