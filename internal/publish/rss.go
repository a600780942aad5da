package publish

import (
	"strconv"
	"strings"

	"github.com/gorilla/feeds"

	"github.com/kpolicy/aggregator/internal/feed"
)

// RSS documents are gorilla/feeds' RssFeedXml, RssFeed and RssItem,
// extended where they fall short: the atom:link rel=self and dc:creator
// namespaces, an optional title and link, several categories with their
// domain, a <source> with its required url attribute, and dc:language.
// The shallower fields of the wrappers replace gorilla's fields of the same
// element name when encoding/xml marshals them.

// rssDoc is the <rss> root element.
type rssDoc struct {
	feeds.RssFeedXml
	AtomNamespace string      `xml:"xmlns:atom,attr"`
	DCNamespace   string      `xml:"xmlns:dc,attr"`
	HistoryNS     string      `xml:"xmlns:fh,attr,omitempty"`
	Channel       *rssChannel `xml:"channel"`
}

// rssChannel is the <channel> element.
type rssChannel struct {
	feeds.RssFeed
	Title       *rssText `xml:"title"`
	Description *rssText `xml:"description"`
	// Publisher names the site (Dublin Core's "entity responsible for
	// making the resource available"): RSS's own managingEditor and
	// webMaster must be e-mail addresses, which the site does not give.
	Publisher *rssText      `xml:"dc:publisher"`
	AtomLinks []rssAtomLink `xml:"atom:link"`
	Archive   *struct{}     `xml:"fh:archive"`
	Items     []*rssItem    `xml:"item"`
}

// rssAtomLink is an atom:link inside RSS: the channel's self, hub and
// archive links (the RSS Advisory Board's way of saying where the document
// is served), and an item's via links.
type rssAtomLink struct {
	Href  string `xml:"href,attr"`
	Rel   string `xml:"rel,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Title string `xml:"title,attr,omitempty"`
}

// rssItem is one <item>.
type rssItem struct {
	feeds.RssItem
	Title      *rssText      `xml:"title,omitempty"`
	Link       string        `xml:"link,omitempty"`
	Creators   []*rssText    `xml:"dc:creator"`
	Categories []rssCategory `xml:"category"`
	Language   string        `xml:"dc:language,omitempty"`
	Source     *rssSource    `xml:"source"`
	AtomLinks  []rssAtomLink `xml:"atom:link"`
}

type rssCategory struct {
	Domain string `xml:"domain,attr,omitempty"`
	Term   string `xml:",innerxml"`
}

type rssSource struct {
	URL   string `xml:"url,attr"`
	Title string `xml:",innerxml"`
}

// rssText is a plain-text element of RSS. RSS never said whether such text
// may hold HTML, so the RSS Profile asks that "&", "<" and ">" in it be
// written as hexadecimal character references, which readers of either
// opinion decode to the same characters.
type rssText struct {
	Raw string `xml:",innerxml"`
}

// plain returns s as an rssText.
func plain(s string) *rssText { return &rssText{Raw: hexEscape(s)} }

// hexEscape escapes s for XML character data, with hexadecimal references
// for the markup characters; characters XML forbids become U+FFFD.
func hexEscape(s string) string {
	return hexReplacer.Replace(xmlChars(s))
}

var hexReplacer = strings.NewReplacer("&", "&#x26;", "<", "&#x3C;", ">", "&#x3E;", "\r", "&#xD;")

// renderRSS renders a prepared Input.
func renderRSS(in Input) ([]byte, error) {
	ch := in.Channel
	desc := ch.Description
	if desc == "" {
		desc = ch.Title // RSS requires a description
	}
	c := &rssChannel{
		RssFeed: feeds.RssFeed{
			Link:          channelURL(in.BaseURL, ch.ID),
			LastBuildDate: rssTime(feedUpdated(in)),
			Generator:     generator,
		},
		Title:       plain(ch.Title),
		Description: plain(desc),
		AtomLinks:   []rssAtomLink{{Href: selfURL(in, RSS), Rel: "self", Type: "application/rss+xml"}},
		Items:       make([]*rssItem, 0, len(in.Items)),
	}
	if in.Site.Title != "" {
		c.Publisher = plain(in.Site.Title)
	}
	for _, h := range in.Hubs {
		c.AtomLinks = append(c.AtomLinks, rssAtomLink{Href: h, Rel: "hub"})
	}
	for _, l := range historyLinks(in, RSS) {
		c.AtomLinks = append(c.AtomLinks, rssAtomLink{Href: l.Href, Rel: l.Rel, Type: "application/rss+xml"})
	}
	names := in.names()
	for _, it := range in.Items {
		src, ok := in.sourceOf(it.SourceID)
		c.Items = append(c.Items, newRSSItem(it, src, ok, names))
	}
	doc := &rssDoc{
		RssFeedXml: feeds.RssFeedXml{
			Version:          "2.0",
			ContentNamespace: "http://purl.org/rss/1.0/modules/content/",
		},
		AtomNamespace: atomNS,
		DCNamespace:   "http://purl.org/dc/elements/1.1/",
		Channel:       c,
	}
	if in.Archive.Full() {
		doc.HistoryNS, c.Archive = historyNS, &struct{}{}
	}
	return encodeXML(doc, sizeHint(in))
}

// newRSSItem makes the <item> of it.
//
// The guid is the entry id Atom uses; it is a permalink only when the feed
// said so, it is an http(s) URL and it is the upstream id unchanged. The
// description is the summary, else the content. <author>, which RSS
// defines as an email address with the name in parentheses, is used only
// for an author with both; every other author is a dc:creator. Only the
// first enclosure is kept: RSS 2.0 allows one per item. An undated item's
// pubDate is when the aggregator first saw it, since RSS has no other date.
// The other sources that carried the story are atom:link rel="via".
func newRSSItem(it feed.Item, src SourceInfo, hasSource bool, sources map[string]SourceInfo) *rssItem {
	r := &rssItem{
		RssItem: feeds.RssItem{
			Description: it.Summary,
			PubDate:     rssTime(it.Published),
		},
		Link:     it.Link,
		Language: langTag(it.Language),
	}
	if it.Title != "" {
		r.Title = plain(it.Title)
	}
	if r.Description == "" {
		r.Description = it.Content
	}
	if it.Content != "" {
		r.Content = &feeds.RssContent{Content: xmlChars(it.Content)}
	}
	id := entryID(it)
	r.Guid = &feeds.RssGuid{Id: id, IsPermaLink: "false"}
	if it.IDIsPermaLink && id == it.ID && isHTTPURL(id) {
		r.Guid.IsPermaLink = "true"
	}
	for _, p := range people(it.Authors) {
		if r.Author == "" && email(p.Email) != "" && p.Name != "" {
			r.Author = p.Email + " (" + p.Name + ")"
			continue
		}
		r.Creators = append(r.Creators, plain(displayName(p)))
	}
	for _, c := range it.Categories {
		if c.Term != "" {
			r.Categories = append(r.Categories, rssCategory{Domain: c.Scheme, Term: hexEscape(c.Term)})
		}
	}
	if len(it.Enclosures) > 0 {
		enc := it.Enclosures[0]
		// RSS requires type and length: "0" is the usual "unknown".
		r.Enclosure = &feeds.RssEnclosure{Url: enc.URL, Type: enc.Type, Length: strconv.FormatInt(max(enc.Length, 0), 10)}
		if enc.Type == "" {
			r.Enclosure.Type = defaultMIMEType
		}
	}
	if hasSource && src.FeedURL != "" {
		r.Source = &rssSource{URL: src.FeedURL, Title: hexEscape(src.Title)}
	}
	for _, v := range viaLinks(it, sources) {
		r.AtomLinks = append(r.AtomLinks, rssAtomLink{Href: v.Href, Rel: "via", Title: v.Title})
	}
	return r
}
