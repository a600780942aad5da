package publish

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// opmlDoc is an OPML 2.0 document (https://opml.org/spec2.opml).
type opmlDoc struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    struct {
		Title       string `xml:"title"`
		DateCreated string `xml:"dateCreated,omitempty"`
		Docs        string `xml:"docs"`
	} `xml:"head"`
	Body struct {
		Outlines []opmlOutline `xml:"outline"`
	} `xml:"body"`
}

type opmlOutline struct {
	Text     string        `xml:"text,attr"`
	Title    string        `xml:"title,attr,omitempty"`
	Type     string        `xml:"type,attr,omitempty"`
	XMLURL   string        `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string        `xml:"htmlUrl,attr,omitempty"`
	URL      string        `xml:"url,attr,omitempty"` // of a type="link" outline
	Category string        `xml:"category,attr,omitempty"`
	Outlines []opmlOutline `xml:"outline"`
}

// OPML writes sources as an OPML 2.0 subscription list titled title: one
// outline per tag, in order of first use, holding the sources that carry it
// (a source with two tags is under both), then the untagged sources at the
// top level. Each source's outline names all its tags in the category
// attribute ("/north-korea,/think-tank"), so an importer that reads it
// rebuilds the tags without duplicating the source. homes gives a source's
// web page by id when known (may be nil). Disabled sources are listed too.
// A scraped source, whose URL is a web page and not a feed, is an outline
// of type "link" with that page as its url.
func OPML(sources []feed.Source, title string, homes map[string]string, created time.Time) ([]byte, error) {
	var doc opmlDoc
	doc.Version = "2.0"
	doc.Head.Title = title
	if !created.IsZero() {
		doc.Head.DateCreated = created.UTC().Format(time.RFC1123Z)
	}
	doc.Head.Docs = "https://opml.org/spec2.opml"

	outline := func(s feed.Source) opmlOutline {
		text := s.Title
		if text == "" {
			text = s.ID
		}
		o := opmlOutline{Text: text, Title: text, Type: "rss", XMLURL: s.URL, HTMLURL: homes[s.ID]}
		if s.Scrape != nil { // a page without a feed: a link, so no reader subscribes to HTML
			o = opmlOutline{Text: text, Title: text, Type: "link", URL: s.URL}
		}
		var cats []string
		for _, t := range s.Tags {
			cats = append(cats, "/"+t)
		}
		o.Category = strings.Join(cats, ",")
		return o
	}
	var tags []string
	byTag := map[string][]opmlOutline{}
	var untagged []opmlOutline
	for _, s := range sources {
		if len(s.Tags) == 0 {
			untagged = append(untagged, outline(s))
			continue
		}
		for _, t := range s.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
			byTag[t] = append(byTag[t], outline(s))
		}
	}
	for _, t := range tags {
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutline{Text: t, Title: t, Outlines: byTag[t]})
	}
	doc.Body.Outlines = append(doc.Body.Outlines, untagged...)

	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render opml: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Sources returns the sources of the current configuration, in config
// order. The caller must not modify them.
func (c *Cache) Sources() []feed.Source {
	return c.cur.Load().sources
}
