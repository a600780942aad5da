// Package publish owns the published form of the aggregator's channels: it
// renders a channel and its items as Atom 1.0, RSS 2.0 and JSON Feed 1.1, and
// keeps the rendered documents of every channel in memory (Cache) so that the
// server answers feed requests without touching the store or re-rendering.
// It owns the feed URL scheme, /feeds/{channel}.{format} and the archive
// pages under it: Location builds those paths and ParsePath reads them, for
// the server, its metrics, and WebSub alike (url.go).
//
// It is the only package that imports github.com/gorilla/feeds. It reads the
// store only through the small Reader (and ArchiveReader) interfaces, and
// only when told to (Configure, Refresh), or when a full archive page is
// asked for that it does not hold (Archive); it never writes to the store,
// polls, or speaks HTTP.
// Rendering is deterministic: the same input gives byte-identical output, so
// an ETag changes only when what a reader sees changes.
package publish

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Format is a published feed format; its value is also the file extension
// of the document (/feeds/{channel}.atom).
type Format string

// The published formats.
const (
	Atom Format = "atom"
	RSS  Format = "rss"
	JSON Format = "json"
)

// Formats lists every format, in the order pages offer them. Do not modify.
var Formats = []Format{Atom, RSS, JSON}

// ErrUnknownFormat is returned by ParseFormat and Render for a format that
// is not one of Formats.
var ErrUnknownFormat = errors.New("unknown feed format")

// ParseFormat returns the Format named s ("atom", "rss" or "json", exactly),
// or an error wrapping ErrUnknownFormat.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Atom, RSS, JSON:
		return f, nil
	}
	return "", fmt.Errorf("parse format %q: %w", s, ErrUnknownFormat)
}

// ContentType returns the media type, with charset, that a document of
// format f is served as; application/octet-stream for an unknown format.
func (f Format) ContentType() string {
	switch f {
	case Atom:
		return "application/atom+xml; charset=utf-8"
	case RSS:
		return "application/rss+xml; charset=utf-8"
	case JSON:
		return "application/feed+json; charset=utf-8"
	}
	return "application/octet-stream"
}

// SourceInfo is what a published item says about its origin.
type SourceInfo struct {
	ID      string    // the configured source id
	Title   string    // display title
	FeedURL string    // the feed document's URL
	Link    string    // the source's home page
	Updated time.Time // when the source was last polled successfully; may be zero
}

// Input is everything one rendered document is made from.
type Input struct {
	Channel feed.Channel
	Items   []feed.Item           // newest first, already limited
	Sources map[string]SourceInfo // the channel's sources, by source id
	BaseURL string                // where the aggregator is served, e.g. "http://localhost:8080"
	// AllSources is every configured source, by id: it names the origins
	// of stories carried by sources the channel does not select. May be nil.
	AllSources map[string]SourceInfo
	// Hubs are the WebSub hubs the document advertises (rel="hub").
	Hubs []string
	// Archive places the document in the channel's RFC 5005 archive; the
	// zero value is a channel without archives.
	Archive Archive
	// Site is the site that publishes the channel: the feed's author when
	// one is needed (see siteAuthor). The zero value names none.
	Site feed.Site
}

// Render returns the document of format f for in (see prepare for what is
// done to the items first). The same Input always gives the same bytes. The error wraps ErrUnknownFormat for an unknown f,
// or is a marshalling error.
func Render(in Input, f Format) ([]byte, error) {
	return render(prepare(in, nil), f)
}

// render renders an Input that prepare has readied.
func render(in Input, f Format) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch f {
	case Atom:
		b, err = renderAtom(in)
	case RSS:
		b, err = renderRSS(in)
	case JSON:
		b, err = renderJSON(in)
	default:
		return nil, fmt.Errorf("render %q: %w", f, ErrUnknownFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("render %s %s: %w", in.Channel.ID, f, err)
	}
	return trimmed(b), nil
}

// sizeHint is what a document of in is expected to take, so that its
// buffer grows once: the items' text, a quarter more for escaping, and
// room for each item's and the document's markup. (Growing by doubling
// from nothing allocated twice the document and kept up to twice its
// bytes; bytes.growSlice was 17% of the bytes allocated serving while
// polling.)
func sizeHint(in Input) int {
	n := 4 << 10
	for _, it := range in.Items {
		n += (len(it.Title)+len(it.Summary)+len(it.Content))*5/4 + 1<<10
	}
	return n
}

// trimmed returns b, copied to a slice of its length when its buffer
// is more than a quarter larger: a document is kept, its spare capacity
// would be kept with it. (On BenchmarkRefresh's channel the hint is 17%
// over the Atom document, 28% over RSS and 47% over JSON.)
func trimmed(b []byte) []byte {
	if cap(b)-len(b) > len(b)/4 {
		return bytes.Clone(b)
	}
	return b
}

// generator names the aggregator in the documents it publishes.
const generator = "aggregator"

// channelURL is the channel's HTML page, the feeds' rel=alternate link and
// (for Atom) the feed's id.
func channelURL(base, channelID string) string {
	return base + "/channels/" + url.PathEscape(channelID)
}

// feedUpdated is the time a document says it was last updated: the newest
// item's Updated; for a channel without items, the newest successful poll
// of its sources, else the Unix epoch. It never reads the clock, so an
// unchanged channel renders to unchanged bytes.
func feedUpdated(in Input) time.Time {
	var t time.Time
	for _, it := range in.Items {
		if it.Updated.After(t) {
			t = it.Updated
		}
	}
	if len(in.Items) > 0 {
		return t.UTC().Truncate(time.Second)
	}
	for _, s := range in.Sources {
		if s.Updated.After(t) {
			t = s.Updated
		}
	}
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC().Truncate(time.Second)
}

// siteAuthor is who a feed names as its author when some item has none
// (needsFeedAuthor): the site that publishes it, at its home page; the
// channel's title when no site is named. The program that wrote the
// document is the generator, never the author.
func siteAuthor(in Input) (name, uri string) {
	if in.Site.Title == "" {
		return in.Channel.Title, ""
	}
	return in.Site.Title, in.BaseURL + "/"
}

// needsFeedAuthor reports whether some item has no author of its own, so
// the feed must name one (RFC 4287 §4.1.1).
func needsFeedAuthor(items []feed.Item) bool {
	for _, it := range items {
		if len(people(it.Authors)) == 0 {
			return true
		}
	}
	return false
}
