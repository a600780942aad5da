package server

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// handleDocument serves every path of the feed URL scheme (see
// publish.ParsePath): a subscription document (handleFeed) or an archive
// page (handleArchive).
func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) {
	loc, err := publish.ParsePath(r.URL.Path)
	switch {
	case errors.Is(err, publish.ErrUnknownFormat):
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such feed format %q: use .atom, .rss or .json", path.Ext(r.URL.Path)[1:]))
	case err != nil:
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such feed %q: use %sCHANNEL.atom, .rss or .json, or %sCHANNEL/archive/N.atom", strings.TrimPrefix(r.URL.Path, publish.FeedsPrefix), publish.FeedsPrefix, publish.FeedsPrefix))
	case loc.Page > 0:
		s.handleArchive(w, r, loc)
	default:
		s.handleFeed(w, r, loc)
	}
}

// handleFeed serves /feeds/{channel}.{atom|rss|json} from the rendered
// document; see serveDocument.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request, loc publish.Location) {
	id, format := loc.Channel, loc.Format
	doc, err := s.feeds.Document(id, format)
	switch {
	case errors.Is(err, publish.ErrNoChannel):
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such channel %q", id))
		return
	case err != nil:
		s.Error(w, r, err)
		return
	}
	s.serveDocument(w, r, loc, doc)
}

// serveDocument writes the rendered document at loc: its identity or its
// gzip representation (each with its own strong ETag), Last-Modified,
// Cache-Control, Vary: Accept-Encoding and the Links (the hubs of a
// subscription document, rel="self" with a base URL), answering
// conditional requests per RFC 9110 §13.2.2: If-None-Match, when present,
// decides alone, by weak comparison against either representation's tag;
// else If-Modified-Since. HEAD gets the headers of GET. Every document,
// archive pages included, gets the same max-age and never immutable:
// curation can change any of them, and what a reload hides must leave
// caches within max-age.
//
// A matching If-None-Match is answered before anything else is set: the
// 304 carries none of it, and building the Links alone was a seventh of a
// 304's handling under load.
func (s *Server) serveDocument(w http.ResponseWriter, r *http.Request, loc publish.Location, doc *publish.Document) {
	h := w.Header()
	gz, unchanged := s.tagged(h, r, doc)
	if unchanged {
		notModified(w)
		return
	}
	h["Content-Type"] = contentType(doc.Format)
	if gz {
		h["Content-Encoding"] = gzipEncoding
	}
	if loc.Page == 0 {
		for _, hub := range s.hubs {
			h.Add("Link", "<"+hub+`>; rel="hub"`)
		}
	}
	if s.baseURL != "" {
		h.Add("Link", "<"+loc.URL(s.baseURL)+`>; rel="self"`)
	}
	body := doc.Body
	if gz {
		body = doc.Gzipped() // after the 304 check: a conditional hit compresses nothing
	}
	serveBytes(w, r, doc.LastModified, body)
}

// tagged sets in h the fields a 304 of doc carries (Vary: Accept-Encoding,
// Cache-Control, the ETag of the representation r gets: gzip'd when gz)
// and reports whether r's If-None-Match names either representation's
// tag (unchanged). Without a match If-Modified-Since is still to be
// judged; with an If-None-Match that does not match it must be ignored
// (RFC 9110 §13.1.3), as http.ServeContent, which sees the same tag, does.
func (s *Server) tagged(h http.Header, r *http.Request, doc *publish.Document) (gz, unchanged bool) {
	if h["Vary"] == nil {
		h["Vary"] = varyEncoding
	} else {
		h.Add("Vary", "Accept-Encoding")
	}
	h["Cache-Control"] = s.cacheControl
	gz = acceptsGzip(r)
	tag := doc.ETag
	if gz {
		tag = doc.GzipETag
	}
	h["Etag"] = []string{tag}
	inm := first(r.Header, "If-None-Match")
	return gz, inm != "" && (etagListMatches(inm, doc.ETag) || etagListMatches(inm, doc.GzipETag))
}

// unchangedFeed answers a poller that already has the subscription
// document it asks for (a GET or HEAD whose If-None-Match names its tag)
// with 304 before the handler's wrappers and routes, and counts it as
// observe would: most requests of a feed server are these (a poller every
// few minutes, mostly unchanged), and the wrappers set headers only for
// notModified to clear them, allocated a statusWriter and parsed the path
// again (BenchmarkFeedHandler/atom-304 1,082 -> 1,040 ns, 5 -> 4
// allocations; bench/RESULTS.md, issue 17, round 11). It sets only what a
// 304 carries (notModified), so the security headers a 304 would drop are
// never set. Anything else it leaves to the handler and reports false,
// having written nothing; a stale tag then costs the handler a second
// lookup of the document, small beside the 200 it gets.
func (s *Server) unchangedFeed(w http.ResponseWriter, r *http.Request) bool {
	if r.Header["If-None-Match"] == nil || !isDocument(r) {
		return false
	}
	loc, err := publish.ParsePath(r.URL.Path)
	if err != nil || loc.Page > 0 {
		return false
	}
	doc, err := s.feeds.Document(loc.Channel, loc.Format)
	if err != nil {
		return false
	}
	h := w.Header()
	if len(h) > 0 {
		return false // a wrapper's fields: notModified's way sorts them
	}
	if _, unchanged := s.tagged(h, r, doc); !unchanged {
		clear(h)
		return false
	}
	w.WriteHeader(http.StatusNotModified)
	s.count(r, loc, nil, http.StatusNotModified)
	return true
}

// contentType is f's Content-Type value, shared as the values in
// negotiate.go are.
func contentType(f publish.Format) []string {
	switch f {
	case publish.Atom:
		return atomType
	case publish.RSS:
		return rssType
	case publish.JSON:
		return jsonType
	}
	return []string{f.ContentType()}
}

var (
	atomType = []string{publish.Atom.ContentType()}
	rssType  = []string{publish.RSS.ContentType()}
	jsonType = []string{publish.JSON.ContentType()}
)

// etagListMatches reports whether an If-None-Match value ("*" or a list of
// entity tags) matches tag by weak comparison: opaque tags equal, W/
// prefixes ignored. "*" matches any tag, even none.
func etagListMatches(list, tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	for list != "" {
		var t string
		t, list, _ = strings.Cut(list, ",")
		t = strings.TrimSpace(t)
		if t == "*" || tag != "" && strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
