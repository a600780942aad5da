package publish

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"github.com/gorilla/feeds"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Atom documents are gorilla/feeds' AtomFeed and AtomEntry, extended where
// they cannot say what RFC 4287 and this aggregator need: several feed
// links (alternate and self), a generator, several authors per entry,
// structured categories (term, scheme, label), a structured <source>, and
// xml:lang. The shallower fields of the wrappers replace gorilla's fields of
// the same element name when encoding/xml marshals them.

// atomFeed is an Atom feed document.
type atomFeed struct {
	feeds.AtomFeed
	Links     []feeds.AtomLink `xml:"link"`
	Generator string           `xml:"generator,omitempty"`
	Entries   []*atomEntry     `xml:"entry"`
}

// atomEntry is one entry of an Atom feed.
type atomEntry struct {
	feeds.AtomEntry
	Lang       string              `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Categories []atomCategory      `xml:"category"`
	Authors    []*feeds.AtomAuthor `xml:"author"`
	Source     *atomSource         `xml:"source"`
	Via        []atomLink          `xml:"link"` // rel="via": the other sources that carried it (origin.go)
}

// atomLink is an Atom link with the title attribute gorilla's lacks.
type atomLink struct {
	Href  string `xml:"href,attr"`
	Rel   string `xml:"rel,attr"`
	Title string `xml:"title,attr,omitempty"`
}

// atomCategory is an Atom category: term with optional scheme and label.
type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

// atomSource carries the metadata of the feed an entry was copied from
// (RFC 4287 §4.2.11).
type atomSource struct {
	ID      string           `xml:"id,omitempty"`
	Title   string           `xml:"title,omitempty"`
	Links   []feeds.AtomLink `xml:"link"`
	Updated string           `xml:"updated,omitempty"`
}

const atomNS = "http://www.w3.org/2005/Atom"

func renderAtom(in Input) ([]byte, error) {
	ch := in.Channel
	doc := &atomFeed{
		AtomFeed: feeds.AtomFeed{
			Xmlns:    atomNS,
			Title:    ch.Title,
			Id:       channelURL(in.BaseURL, ch.ID),
			Updated:  atomTime(feedUpdated(in)),
			Subtitle: ch.Description,
		},
		Links: []feeds.AtomLink{
			{Href: channelURL(in.BaseURL, ch.ID), Rel: "alternate", Type: "text/html"},
			{Href: feedURL(in.BaseURL, ch.ID, Atom), Rel: "self", Type: "application/atom+xml"},
		},
		Generator: generator,
		Entries:   make([]*atomEntry, 0, len(in.Items)),
	}
	if needsFeedAuthor(in.Items) {
		doc.Author = &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: ch.Title}}
	}
	for _, it := range in.Items {
		src, ok := in.sourceOf(it.SourceID)
		e := newAtomEntry(it, src, ok)
		for _, v := range in.vias(it) {
			e.Via = append(e.Via, atomLink{Href: v.Href, Rel: "via", Title: v.Source.Title})
		}
		doc.Entries = append(doc.Entries, e)
	}
	return encodeXML(doc)
}

// newAtomEntry makes the entry of it. An untitled item gets an empty title
// element: the aggregator does not invent titles. An undated item
// (Dated=false) has no <published>; its <updated> is when it was first seen.
func newAtomEntry(it feed.Item, src SourceInfo, hasSource bool) *atomEntry {
	e := &atomEntry{
		AtomEntry: feeds.AtomEntry{
			Title:   it.Title,
			Id:      entryID(it),
			Updated: atomTime(it.Updated),
		},
		Lang: langTag(it.Language),
	}
	if it.Dated {
		e.Published = atomTime(it.Published)
	}
	if it.Link != "" {
		e.Links = append(e.Links, feeds.AtomLink{Href: it.Link, Rel: "alternate"})
	}
	for _, enc := range it.Enclosures {
		l := feeds.AtomLink{Href: enc.URL, Rel: "enclosure", Type: enc.Type}
		if enc.Length > 0 {
			l.Length = strconv.FormatInt(enc.Length, 10)
		}
		e.Links = append(e.Links, l)
	}
	if it.Summary != "" {
		e.Summary = &feeds.AtomSummary{Content: it.Summary, Type: "html"}
	}
	// An entry without an alternate link must have content (RFC 4287
	// §4.1.1.1 and §4.1.2): give it its summary, even an empty one.
	switch {
	case it.Content != "":
		e.Content = &feeds.AtomContent{Content: it.Content, Type: "html"}
	case it.Link == "":
		e.Content = &feeds.AtomContent{Content: it.Summary, Type: "html"}
	}
	for _, p := range people(it.Authors) {
		e.Authors = append(e.Authors, &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{
			Name: displayName(p), Uri: p.URI, Email: email(p.Email),
		}})
	}
	for _, c := range it.Categories {
		if c.Term != "" {
			e.Categories = append(e.Categories, atomCategory{Term: c.Term, Scheme: c.Scheme, Label: c.Label})
		}
	}
	if hasSource {
		e.Source = newAtomSource(src)
	}
	return e
}

func newAtomSource(src SourceInfo) *atomSource {
	s := &atomSource{ID: src.FeedURL, Title: src.Title}
	if src.Link != "" {
		s.Links = append(s.Links, feeds.AtomLink{Href: src.Link, Rel: "alternate", Type: "text/html"})
	}
	if src.FeedURL != "" {
		s.Links = append(s.Links, feeds.AtomLink{Href: src.FeedURL, Rel: "self"})
	}
	if !src.Updated.IsZero() {
		s.Updated = atomTime(src.Updated)
	}
	return s
}

// encodeXML returns doc as an indented XML document with its declaration.
func encodeXML(doc any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
