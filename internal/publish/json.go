package publish

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/gorilla/feeds"

	"github.com/kpolicy/aggregator/internal/feed"
)

// JSON Feed documents are gorilla/feeds' JSONFeed and JSONItem, extended
// where they fall short of JSON Feed 1.1: "items" is always present (an
// empty channel is still a valid feed), attachments carry size_in_bytes
// (gorilla writes "size"), items carry content_text when they have no HTML,
// a language, and the "_source" extension naming where they came from.
// The shallower fields of the wrappers replace gorilla's fields of the
// same JSON name when encoding/json marshals them.

// jsonFeed is a JSON Feed 1.1 document.
type jsonFeed struct {
	feeds.JSONFeed
	Items []*jsonItem `json:"items"`
}

// jsonItem is one item of a JSON feed.
type jsonItem struct {
	feeds.JSONItem
	ContentText *string          `json:"content_text,omitempty"`
	Attachments []jsonAttachment `json:"attachments,omitempty"`
	Language    string           `json:"language,omitempty"`
	Source      *jsonSource      `json:"_source,omitempty"`
}

type jsonAttachment struct {
	URL      string `json:"url"`
	MIMEType string `json:"mime_type"`
	Size     int64  `json:"size_in_bytes,omitempty"`
}

// jsonSource is the "_source" extension of an item: the feed it was copied
// from (JSON Feed has no field for it; extensions start with "_").
type jsonSource struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	URL     string `json:"url,omitempty"`
	FeedURL string `json:"feed_url,omitempty"`
	// Also lists the other sources' copies of the story, as Atom's
	// rel="via" links do.
	Also []jsonVia `json:"also,omitempty"`
}

type jsonVia struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

const jsonFeedVersion = "https://jsonfeed.org/version/1.1"

func renderJSON(in Input) ([]byte, error) {
	ch := in.Channel
	doc := &jsonFeed{
		JSONFeed: feeds.JSONFeed{
			Version:     jsonFeedVersion,
			Title:       ch.Title,
			HomePageUrl: channelURL(in.BaseURL, ch.ID),
			FeedUrl:     selfURL(in, JSON),
			Description: ch.Description,
		},
		Items: make([]*jsonItem, 0, len(in.Items)),
	}
	for _, h := range in.Hubs {
		doc.Hubs = append(doc.Hubs, &feeds.JSONHub{Type: "WebSub", Url: h})
	}
	// JSON Feed pages with next_url: the subscription document leads to
	// the open archive page, and each page to the one before it.
	for _, l := range historyLinks(in, JSON) {
		if l.Rel == "prev-archive" {
			doc.NextUrl = l.Href
		}
	}
	if needsFeedAuthor(in.Items) {
		name, uri := siteAuthor(in)
		doc.Authors = []*feeds.JSONAuthor{{Name: name, Url: uri}}
	}
	names := in.names()
	for _, it := range in.Items {
		src, ok := in.sourceOf(it.SourceID)
		doc.Items = append(doc.Items, newJSONItem(it, src, ok, names))
	}
	var buf bytes.Buffer
	buf.Grow(sizeHint(in))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newJSONItem makes the item of it. content_html is the content, else the
// summary; an item with neither has an empty content_text, since one of the
// two is required. The summary, HTML in the store, is published as the
// plain text JSON Feed wants. An undated item has no date_published.
func newJSONItem(it feed.Item, src SourceInfo, hasSource bool, sources map[string]SourceInfo) *jsonItem {
	j := &jsonItem{
		JSONItem: feeds.JSONItem{
			Id:           entryID(it),
			Url:          it.Link,
			Title:        it.Title,
			ContentHTML:  it.Content,
			Summary:      plainText(it.Summary),
			ModifiedDate: jsonTime(it.Updated),
		},
		Language: langTag(it.Language),
	}
	if j.ContentHTML == "" {
		j.ContentHTML = it.Summary
	}
	if j.ContentHTML == "" {
		j.ContentText = new(string)
	}
	if it.Dated {
		j.PublishedDate = jsonTime(it.Published)
	}
	for _, p := range people(it.Authors) {
		a := &feeds.JSONAuthor{Name: p.Name, Url: p.URI}
		if a.Url == "" && email(p.Email) != "" {
			a.Url = "mailto:" + p.Email
		}
		if a.Name == "" && a.Url == "" {
			continue
		}
		j.Authors = append(j.Authors, a)
	}
	for _, c := range it.Categories {
		if c.Term != "" && !slices.Contains(j.Tags, c.Term) {
			j.Tags = append(j.Tags, c.Term)
		}
	}
	for _, enc := range it.Enclosures {
		a := jsonAttachment{URL: enc.URL, MIMEType: enc.Type, Size: max(enc.Length, 0)}
		if a.MIMEType == "" {
			a.MIMEType = defaultMIMEType
		}
		j.Attachments = append(j.Attachments, a)
	}
	if hasSource {
		j.Source = &jsonSource{ID: src.ID, Title: src.Title, URL: src.Link, FeedURL: src.FeedURL}
		for _, v := range viaLinks(it, sources) {
			j.Source.Also = append(j.Source.Also, jsonVia{URL: v.Href, Title: v.Title})
		}
	}
	return j
}

// jsonTime is t in UTC to the second, as JSON Feed's RFC 3339 dates.
func jsonTime(t time.Time) *time.Time {
	t = t.UTC().Truncate(time.Second)
	return &t
}
