package publish

import (
	"slices"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Archive is where a document stands in its channel's history (RFC 5005
// §4, archived feeds). The membership index cuts a channel's members, in
// the order they were first stored, into pages: page 1 holds the oldest.
// A page's bounds never move: a member that leaves (hidden, excluded,
// past a limit, aged, pruned) leaves its page smaller, and a page is
// opened when the last one holds PageSize members and a newer member
// arrives. The last page (Pages) is open and grows as members arrive. The
// subscription document (Page 0) holds the newest members and links the
// open page as prev-archive; each page links the one before as
// prev-archive, the one after as next-archive, and the subscription
// document as current. Walking prev-archive from the subscription document
// visits every member once in the pages. Pages before the open one carry
// fh:archive. No page is served as immutable: curation can change any of
// them, so each carries the same honest max-age and validators as the
// subscription document, and a subscriber that revalidates sees the change
// (RFC 5005 §4 lets a client re-fetch an archive document).
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

// newestFirst reverses items (in Seq order) so that a page lists its
// newest item first, as feeds do.
func newestFirst(items []feed.Item) []feed.Item {
	slices.Reverse(items)
	return items
}
