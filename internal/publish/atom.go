package publish

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"time"

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
	HistoryNS string       `xml:"xmlns:fh,attr,omitempty"`
	Links     []atomLink   `xml:"link"`
	Generator string       `xml:"generator,omitempty"`
	Archive   *struct{}    `xml:"fh:archive"`
	Entries   []*atomEntry `xml:"entry"`
}

// atomEntry is one entry of an Atom feed.
type atomEntry struct {
	feeds.AtomEntry
	Lang       string              `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Links      []atomLink          `xml:"link"`
	Categories []atomCategory      `xml:"category"`
	Authors    []*feeds.AtomAuthor `xml:"author"`
	Source     *atomSource         `xml:"source"`
}

// atomLink is an Atom link; gorilla's has no title.
type atomLink struct {
	Href   string `xml:"href,attr"`
	Rel    string `xml:"rel,attr,omitempty"`
	Type   string `xml:"type,attr,omitempty"`
	Length string `xml:"length,attr,omitempty"`
	Title  string `xml:"title,attr,omitempty"`
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
	ID      string     `xml:"id,omitempty"`
	Title   string     `xml:"title,omitempty"`
	Links   []atomLink `xml:"link"`
	Updated string     `xml:"updated,omitempty"`
}

const atomNS = "http://www.w3.org/2005/Atom"

// renderAtom renders a prepared Input. The feed's updated is the latest of
// its entries' (see atomEntryTime), else feedUpdated.
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
		Links: []atomLink{
			{Href: channelURL(in.BaseURL, ch.ID), Rel: "alternate", Type: "text/html"},
			{Href: selfURL(in, Atom), Rel: "self", Type: "application/atom+xml"},
		},
		Generator: generator,
		Entries:   make([]*atomEntry, 0, len(in.Items)),
	}
	for _, h := range in.Hubs {
		doc.Links = append(doc.Links, atomLink{Href: h, Rel: "hub"})
	}
	for _, l := range historyLinks(in, Atom) {
		doc.Links = append(doc.Links, atomLink{Href: l.Href, Rel: l.Rel, Type: "application/atom+xml"})
	}
	if in.Archive.Full() {
		doc.HistoryNS, doc.Archive = historyNS, &struct{}{}
	}
	if needsFeedAuthor(in.Items) {
		name, uri := siteAuthor(in)
		doc.Author = &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: name, Uri: uri}}
	}
	var latest time.Time
	names := in.names()
	for _, it := range in.Items {
		src, ok := in.sourceOf(it.SourceID)
		if in.Archive.IsPage() {
			// atom:source keeps the source feed as it was when the entry
			// was copied (RFC 4287 §4.2.11): the first time it was seen.
			// Unlike the source's last poll, that never changes a page.
			src.Updated = it.FirstSeen
		}
		e, updated := newAtomEntry(it, src, ok, names)
		if updated.After(latest) {
			latest = updated
		}
		doc.Entries = append(doc.Entries, e)
	}
	if !latest.IsZero() {
		doc.Updated = atomFracTime(latest)
	}
	return encodeXML(doc, sizeHint(in))
}

// atomTitle is the title of an entry: the item's, else the start of its
// text, else its link. RFC 4287 requires a title and readers list entries
// by it; a blank one leaves nothing to click on.
func atomTitle(it feed.Item) string {
	if strings.TrimSpace(it.Title) != "" {
		return it.Title
	}
	text := plainText(it.Summary)
	if text == "" {
		text = plainText(it.Content)
	}
	if r := []rune(text); len(r) > 80 {
		text = strings.TrimSpace(string(r[:80])) + "…"
	}
	if text == "" {
		text = it.Link
	}
	return text
}

// newAtomEntry makes the entry of it and returns it with its updated time.
// An untitled item gets an empty title element: the aggregator does not
// invent titles. An undated item (Dated=false) has no <published>; its
// <updated> is when it was first seen. The other sources that carried the
// story are rel="via" links titled with the source's name.
func newAtomEntry(it feed.Item, src SourceInfo, hasSource bool, sources map[string]SourceInfo) (*atomEntry, time.Time) {
	updated := atomEntryTime(it, it.Updated)
	e := &atomEntry{
		AtomEntry: feeds.AtomEntry{
			Title:   atomTitle(it),
			Id:      entryID(it),
			Updated: atomFracTime(updated),
		},
		Lang: langTag(it.Language),
	}
	if it.Dated {
		e.Published = atomTime(it.Published)
	}
	if it.Link != "" {
		e.Links = append(e.Links, atomLink{Href: it.Link, Rel: "alternate"})
	}
	for _, enc := range it.Enclosures {
		l := atomLink{Href: enc.URL, Rel: "enclosure", Type: enc.Type}
		if enc.Length > 0 {
			l.Length = strconv.FormatInt(enc.Length, 10)
		}
		e.Links = append(e.Links, l)
	}
	for _, v := range viaLinks(it, sources) {
		e.Links = append(e.Links, atomLink{Href: v.Href, Rel: "via", Title: v.Title})
	}
	if it.Summary != "" {
		e.Summary = &feeds.AtomSummary{Content: it.Summary, Type: "html"}
	}
	// An entry without an alternate link must have content (RFC 4287
	// §4.1.1.1 and §4.1.2): give it its summary, even an empty one. One
	// with a link but no text at all gets a plain-text summary of its
	// title, else its link, which is what a reader would show for it
	// anyway: an entry without textual content, or with a blank one, is
	// one that readers may not display.
	switch {
	case it.Content != "":
		e.Content = &feeds.AtomContent{Content: it.Content, Type: "html"}
	case it.Link == "":
		e.Content = &feeds.AtomContent{Content: it.Summary, Type: "html"}
	case it.Summary == "" && strings.TrimSpace(it.Title) != "":
		e.Summary = &feeds.AtomSummary{Content: it.Title, Type: "text"}
	case it.Summary == "":
		e.Summary = &feeds.AtomSummary{Content: it.Link, Type: "text"}
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
	return e, updated
}

func newAtomSource(src SourceInfo) *atomSource {
	s := &atomSource{ID: src.FeedURL, Title: src.Title}
	if src.Link != "" {
		s.Links = append(s.Links, atomLink{Href: src.Link, Rel: "alternate", Type: "text/html"})
	}
	if src.FeedURL != "" {
		s.Links = append(s.Links, atomLink{Href: src.FeedURL, Rel: "self"})
	}
	if !src.Updated.IsZero() {
		s.Updated = atomTime(src.Updated)
	}
	return s
}

// encodeXML returns doc as an indented XML document with its declaration.
func encodeXML(doc any, hint int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(hint)
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
