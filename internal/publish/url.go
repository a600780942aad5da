package publish

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The feed URL scheme. Every document of a channel is served at one path:
//
//	/feeds/{channel}.{format}                  the subscription document
//	/feeds/{channel}/archive/{page}.{format}   archive page {page}, from 1 (RFC 5005)
//
// Location.Path builds these paths and ParsePath reads them. The server's
// routes, its metrics and subscriber statistics, the WebSub topics and the
// documents' own links (self, current, prev-archive, next-archive) all go
// through this pair, so a channel id with a dot ("kr.news", which the config
// allows) names the same channel everywhere. The format is what follows the
// last dot, so "/feeds/kr.news.atom" is channel "kr.news" in Atom.

// FeedsPrefix is the path every document is served under.
const FeedsPrefix = "/feeds/"

// ErrNotDocument is returned by ParsePath and ParseURL for a path or URL that
// does not name a document of the scheme at all.
var ErrNotDocument = errors.New("not a feed document")

// Location names one published document: a channel's subscription document
// (Page 0) or one of its archive pages, in one format.
type Location struct {
	Channel string
	Page    int // 0 for the subscription document; n ≥ 1 for archive page n
	Format  Format
}

// Path returns the escaped path the document is served at.
func (l Location) Path() string {
	p := FeedsPrefix + url.PathEscape(l.Channel)
	if l.Page > 0 {
		p += "/archive/" + strconv.Itoa(l.Page)
	}
	return p + "." + string(l.Format)
}

// URL returns the document's absolute URL when the aggregator is served at
// base ("http://localhost:8080", no trailing slash).
func (l Location) URL(base string) string { return base + l.Path() }

// ParsePath returns the document that path names; path is unescaped, as in
// http.Request.URL.Path. An archive page number is decimal, from 1, without
// leading zeros.
//
// The error wraps ErrUnknownFormat when the path has the scheme's shape but
// its extension is not a format; the Location returned with it still names
// the channel and page, so that a caller can count the request under its
// channel. Any other path gives an error wrapping ErrNotDocument. ParsePath
// does not know which channels exist.
func ParsePath(path string) (Location, error) {
	rest, ok := strings.CutPrefix(path, FeedsPrefix)
	if !ok {
		return Location{}, fmt.Errorf("parse feed path %q: %w", path, ErrNotDocument)
	}
	var loc Location
	file := rest
	if channel, page, ok := strings.Cut(rest, "/archive/"); ok && channel != "" && !strings.Contains(channel, "/") {
		num, ext, ok := cutExt(page)
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || num != strconv.Itoa(n) || strings.Contains(ext, "/") {
			return Location{}, fmt.Errorf("parse feed path %q: %w: archive pages are %sCHANNEL/archive/N.atom, .rss or .json", path, ErrNotDocument, FeedsPrefix)
		}
		loc.Channel, loc.Page, file = channel, n, ext
	} else {
		channel, ext, ok := cutExt(rest)
		if !ok || strings.Contains(rest, "/") {
			return Location{}, fmt.Errorf("parse feed path %q: %w: feeds are %sCHANNEL.atom, .rss or .json", path, ErrNotDocument, FeedsPrefix)
		}
		loc.Channel, file = channel, ext
	}
	f, err := ParseFormat(file)
	if err != nil {
		return loc, fmt.Errorf("parse feed path %q: %w", path, err)
	}
	loc.Format = f
	return loc, nil
}

// ParseURL is ParsePath for an absolute URL of a document served at base, as
// Location.URL builds it: a URL that does not start with base, or whose
// path does not unescape, wraps ErrNotDocument; a query or fragment is not
// part of any document's URL.
func ParseURL(base, rawURL string) (Location, error) {
	rest, ok := strings.CutPrefix(rawURL, base)
	if !ok || !strings.HasPrefix(rest, FeedsPrefix) || strings.ContainsAny(rest, "?#") {
		return Location{}, fmt.Errorf("parse feed URL %q: %w", rawURL, ErrNotDocument)
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		return Location{}, fmt.Errorf("parse feed URL %q: %w", rawURL, ErrNotDocument)
	}
	return ParsePath(path)
}

// cutExt splits "name.ext" at its last dot; it reports false when there is
// no dot or nothing before it.
func cutExt(s string) (name, ext string, ok bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return "", "", false
	}
	return s[:dot], s[dot+1:], true
}

// feedURL is where the subscription document of format f is served, its
// rel=self link.
func feedURL(base, channelID string, f Format) string {
	return Location{Channel: channelID, Format: f}.URL(base)
}

// archiveURL is where page of the channel's archive is served in format f.
func archiveURL(base, channelID string, page int, f Format) string {
	return Location{Channel: channelID, Page: page, Format: f}.URL(base)
}
