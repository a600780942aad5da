package publish

import (
	"strconv"

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
	Channel       *rssChannel `xml:"channel"`
}

// rssChannel is the <channel> element.
type rssChannel struct {
	feeds.RssFeed
	Self  *rssAtomLink `xml:"atom:link"`
	Items []*rssItem   `xml:"item"`
}

// rssAtomLink is the channel's atom:link, the RSS Advisory Board's way of
// saying where the document is served.
type rssAtomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

// rssItem is one <item>.
type rssItem struct {
	feeds.RssItem
	Title      string        `xml:"title,omitempty"`
	Link       string        `xml:"link,omitempty"`
	Creators   []string      `xml:"dc:creator"`
	Categories []rssCategory `xml:"category"`
	Language   string        `xml:"dc:language,omitempty"`
	Source     *rssSource    `xml:"source"`
	Via        []rssViaLink  `xml:"atom:link"` // the other sources that carried it (origin.go)
}

// rssViaLink is an atom:link rel="via" in an RSS item: RSS has no element
// for a story's other sources, and the atom namespace is declared anyway.
type rssViaLink struct {
	Href  string `xml:"href,attr"`
	Rel   string `xml:"rel,attr"`
	Title string `xml:"title,attr,omitempty"`
}

type rssCategory struct {
	Domain string `xml:"domain,attr,omitempty"`
	Term   string `xml:",chardata"`
}

type rssSource struct {
	URL   string `xml:"url,attr"`
	Title string `xml:",chardata"`
}

func renderRSS(in Input) ([]byte, error) {
	ch := in.Channel
	desc := ch.Description
	if desc == "" {
		desc = ch.Title // RSS requires a description
	}
	c := &rssChannel{
		RssFeed: feeds.RssFeed{
			Title:         ch.Title,
			Link:          channelURL(in.BaseURL, ch.ID),
			Description:   desc,
			LastBuildDate: rssTime(feedUpdated(in)),
			Generator:     generator,
		},
		Self:  &rssAtomLink{Href: feedURL(in.BaseURL, ch.ID, RSS), Rel: "self", Type: "application/rss+xml"},
		Items: make([]*rssItem, 0, len(in.Items)),
	}
	for _, it := range in.Items {
		src, ok := in.sourceOf(it.SourceID)
		r := newRSSItem(it, src, ok)
		for _, v := range in.vias(it) {
			r.Via = append(r.Via, rssViaLink{Href: v.Href, Rel: "via", Title: v.Source.Title})
		}
		c.Items = append(c.Items, r)
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
	return encodeXML(doc)
}

// newRSSItem makes the <item> of it.
//
// The guid is the upstream id, a permalink only when the feed said so and
// it is an http(s) URL; an item without upstream id gets the urn:uuid that
// Atom uses. The description is the summary, else the content. <author>,
// which RSS defines as an email address, is used only for an author with
// one ("email (Name)"); every other author is a dc:creator. Only the first
// enclosure is kept: RSS 2.0 allows one per item. An undated item's pubDate
// is when the aggregator first saw it, since RSS has no other date.
func newRSSItem(it feed.Item, src SourceInfo, hasSource bool) *rssItem {
	r := &rssItem{
		RssItem: feeds.RssItem{
			Description: it.Summary,
			PubDate:     rssTime(it.Published),
		},
		Title:    it.Title,
		Link:     it.Link,
		Language: langTag(it.Language),
	}
	if r.Description == "" {
		r.Description = it.Content
	}
	if it.Content != "" {
		r.Content = &feeds.RssContent{Content: xmlChars(it.Content)}
	}
	switch {
	case it.ID == "":
		r.Guid = &feeds.RssGuid{Id: generatedID(it), IsPermaLink: "false"}
	case it.IDIsPermaLink && isHTTPURL(it.ID):
		r.Guid = &feeds.RssGuid{Id: it.ID, IsPermaLink: "true"}
	default:
		r.Guid = &feeds.RssGuid{Id: it.ID, IsPermaLink: "false"}
	}
	for _, p := range people(it.Authors) {
		if r.Author == "" && email(p.Email) != "" {
			r.Author = p.Email
			if p.Name != "" {
				r.Author += " (" + p.Name + ")"
			}
			continue
		}
		r.Creators = append(r.Creators, displayName(p))
	}
	for _, c := range it.Categories {
		if c.Term != "" {
			r.Categories = append(r.Categories, rssCategory{Domain: c.Scheme, Term: c.Term})
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
		r.Source = &rssSource{URL: src.FeedURL, Title: src.Title}
	}
	return r
}
