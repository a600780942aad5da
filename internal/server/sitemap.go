package server

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
)

// The sitemap protocol's limits on one file (sitemaps.org): 50,000 URLs
// and 50 MB uncompressed; a URL under 2,048 characters.
const (
	sitemapMaxURLs  = 50_000
	sitemapMaxBytes = 50_000_000
	sitemapMaxLoc   = 2048
)

// sitemapMaxFiles bounds the pages listed to sitemapMaxFiles ×
// sitemapMaxURLs (half a million), each channel's newest first: past that
// a build would hold too much, and crawlers reach older items through the
// channel pages.
const sitemapMaxFiles = 10

// sitemapMinAge is how long a built sitemap is served after what it lists
// changed, before it is built again: a sitemap a minute old is as good to
// a crawler, and a site that polls all the time then builds it at most
// once a minute however often it is asked for.
const sitemapMinAge = time.Minute

// sitemapWalk is how many members one read of a channel's walk returns.
const sitemapWalk = 1000

// sitemaps builds the sitemap when it is asked for and keeps it until
// what it lists changes (see stamp), at most once per sitemapMinAge.
type sitemaps struct {
	mu    sync.Mutex
	built *sitemapSet
	// maxURLs and maxBytes bound one file; zero is the protocol's limit
	// (tests set less).
	maxURLs, maxBytes int
}

// sitemapSet is one build: files[0] is /sitemap.xml (a urlset, or an
// index of files[1:], /sitemaps/N.xml).
type sitemapSet struct {
	stamp sitemapStamp
	at    time.Time
	files []*sitemapFile
}

// sitemapStamp is what a build depends on: when it differs, the sitemap
// may list other pages or other dates.
type sitemapStamp struct {
	channels string    // the configured channels, as served
	followed uint64    // the write order the membership indexes have followed
	expires  time.Time // when age first takes a listed member out; zero for never
	complete bool      // every channel's index answered
}

type sitemapFile struct {
	body, gz     []byte
	etag, gzETag string
	modified     time.Time
}

func newSitemapFile(body []byte, modified time.Time) *sitemapFile {
	sum := sha256.Sum256(body)
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(body)
	zw.Close()
	return &sitemapFile{body: body, gz: buf.Bytes(), etag: tag, gzETag: tag[:len(tag)-1] + `-gzip"`, modified: modified.UTC().Truncate(time.Second)}
}

// handleSitemap serves /sitemap.xml: the site's channel pages and the
// item pages of what the channels publish, with their dates.
func (s *Server) handleSitemap(w http.ResponseWriter, r *http.Request) {
	s.serveSitemap(w, r, 0)
}

// handleSitemapPart serves /sitemaps/N.xml, part N of a sitemap too big
// for one file.
func (s *Server) handleSitemapPart(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".xml")
	n, err := strconv.Atoi(name)
	if !ok || err != nil || n < 1 || strconv.Itoa(n) != name {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such sitemap"))
		return
	}
	s.serveSitemap(w, r, n)
}

func (s *Server) serveSitemap(w http.ResponseWriter, r *http.Request, n int) {
	set, err := s.sitemap(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if n >= len(set.files) || (n > 0 && len(set.files) == 1) {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such sitemap"))
		return
	}
	f := set.files[n]
	h := w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Vary", "Accept-Encoding")
	body, tag := f.body, f.etag
	if acceptsGzip(r) {
		body, tag = f.gz, f.gzETag
		h.Set("Content-Encoding", "gzip")
	}
	// Either representation's tag matches, as for the feeds.
	if inm := r.Header.Get("If-None-Match"); inm != "" && (etagListed(inm, f.etag) || etagListed(inm, f.gzETag)) {
		h.Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("ETag", tag)
	http.ServeContent(w, r, "", f.modified, bytes.NewReader(body))
}

// etagListed reports whether the If-None-Match value lists tag, by weak
// comparison, or is "*".
func etagListed(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// sitemap returns the current build, building it when what it lists has
// changed and the last build is older than sitemapMinAge. Requests that
// come during a build wait for it.
func (s *Server) sitemap(r *http.Request) (*sitemapSet, error) {
	s.maps.mu.Lock()
	defer s.maps.mu.Unlock()
	now := s.now()
	stamp, err := s.sitemapStamp(r.Context())
	if err != nil {
		return nil, err
	}
	if b := s.maps.built; b != nil {
		fresh := b.stamp.channels == stamp.channels && b.stamp.followed == stamp.followed && b.stamp.complete &&
			(b.stamp.expires.IsZero() || now.Before(b.stamp.expires))
		if fresh || now.Sub(b.at) < sitemapMinAge {
			return b, nil
		}
	}
	set, err := s.buildSitemap(r.Context(), s.publicBase(r), stamp, now)
	if err != nil {
		return nil, err
	}
	s.maps.built = set
	return set, nil
}

// sitemapStamp reads what the next build would depend on, but for the
// expiry, which the build learns.
func (s *Server) sitemapStamp(ctx context.Context) (sitemapStamp, error) {
	var ids strings.Builder
	for _, c := range s.feeds.Channels() {
		fmt.Fprintf(&ids, "%s\x00%p\x00", c.Channel.ID, c)
	}
	st := sitemapStamp{channels: ids.String(), complete: true}
	if s.Members != nil {
		var err error
		if st.followed, err = s.Members.Followed(ctx); err != nil {
			return st, err
		}
	}
	return st, nil
}

// sitemapURL is one <url> of a sitemap.
type sitemapURL struct {
	loc     string
	lastmod time.Time
}

// buildSitemap lists each channel's page, then the item page of every
// member of the channel not listed yet (newest first), and last the home
// page, dated by the newest channel; and cuts the list into files as it
// goes, so that a build holds its output and a set of item hashes, not
// the items.
func (s *Server) buildSitemap(ctx context.Context, base string, stamp sitemapStamp, now time.Time) (*sitemapSet, error) {
	w := &sitemapWriter{maxURLs: cmp.Or(s.maps.maxURLs, sitemapMaxURLs), maxBytes: cmp.Or(s.maps.maxBytes, sitemapMaxBytes)}
	seed := maphash.MakeSeed()
	seen := map[uint64]struct{}{}
	home := sitemapURL{loc: base + "/"}
	clamp := func(t time.Time) time.Time {
		if t.After(now) {
			return now // an item dated ahead: a sitemap date must not be in the future
		}
		return t
	}
	for _, c := range s.feeds.Channels() {
		page := sitemapURL{loc: base + "/channels/" + url.PathEscape(c.Channel.ID)}
		var after *membership.Cursor
		for {
			var p membership.Page
			var err error
			if s.Members != nil {
				p, err = s.Members.Older(ctx, c.Channel.ID, after, sitemapWalk)
			}
			if errors.Is(err, membership.ErrNotReady) {
				stamp.complete = false // listed once it is built
			} else if err != nil {
				return nil, fmt.Errorf("sitemap of channel %s: %w", c.Channel.ID, err)
			}
			if after == nil {
				// The channel's page shows its first members: it changed
				// when they did.
				page.lastmod = p.Changed
				for i, it := range p.Items {
					if m := itemModified(it); i < pageSize && m.After(page.lastmod) {
						page.lastmod = m
					}
				}
				page.lastmod = clamp(page.lastmod)
				if page.lastmod.After(home.lastmod) {
					home.lastmod = page.lastmod
				}
				w.add(page)
			}
			if !p.Expires.IsZero() && (stamp.expires.IsZero() || p.Expires.Before(stamp.expires)) {
				stamp.expires = p.Expires
			}
			for _, it := range p.Items {
				ref := it.Ref()
				h := maphash.String(seed, ref)
				if _, dup := seen[h]; dup || w.full() {
					continue
				}
				loc := base + "/items/" + ref
				if len(loc) >= sitemapMaxLoc {
					continue
				}
				seen[h] = struct{}{}
				w.add(sitemapURL{loc: loc, lastmod: clamp(itemModified(it))})
			}
			if !p.More || len(p.Items) == 0 || w.full() {
				break
			}
			last := p.Last
			after = &last
		}
	}
	w.add(home)
	set := &sitemapSet{stamp: stamp, at: now, files: w.finish(base)}
	return set, nil
}

// itemModified is when an item page last changed: the item's update.
func itemModified(it feed.Item) time.Time {
	if !it.Updated.IsZero() {
		return it.Updated
	}
	return it.Published
}

const (
	xmlHeader   = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	urlsetOpen  = xmlHeader + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n"
	urlsetClose = "</urlset>\n"
)

// sitemapWriter writes URLs into urlset files, each within the
// protocol's limits, at most sitemapMaxFiles of them.
type sitemapWriter struct {
	maxURLs, maxBytes int
	parts             []*sitemapPart
}

type sitemapPart struct {
	buf    bytes.Buffer
	n      int
	newest time.Time
}

// full reports whether no item fits any more: the last file is full and
// there are sitemapMaxFiles. (Channel and home pages still go in.)
func (w *sitemapWriter) full() bool {
	if len(w.parts) < sitemapMaxFiles {
		return false
	}
	last := w.parts[len(w.parts)-1]
	return last.n >= w.maxURLs-w.maxURLs/50 // room kept for the channel pages and home
}

func (w *sitemapWriter) add(u sitemapURL) {
	entry := urlEntry(u)
	var p *sitemapPart
	if n := len(w.parts); n > 0 {
		p = w.parts[n-1]
	}
	if p == nil || p.n >= w.maxURLs || p.buf.Len()+len(entry)+len(urlsetClose) > w.maxBytes {
		p = &sitemapPart{}
		p.buf.WriteString(urlsetOpen)
		w.parts = append(w.parts, p)
	}
	p.buf.WriteString(entry)
	p.n++
	if u.lastmod.After(p.newest) {
		p.newest = u.lastmod
	}
}

// finish returns the files: one urlset, or an index and the urlsets it
// lists as base/sitemaps/N.xml.
func (w *sitemapWriter) finish(base string) []*sitemapFile {
	if len(w.parts) == 1 {
		p := w.parts[0]
		p.buf.WriteString(urlsetClose)
		return []*sitemapFile{newSitemapFile(p.buf.Bytes(), p.newest)}
	}
	var index bytes.Buffer
	index.WriteString(xmlHeader + `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	files := []*sitemapFile{nil}
	var newest time.Time
	for i, p := range w.parts {
		p.buf.WriteString(urlsetClose)
		files = append(files, newSitemapFile(p.buf.Bytes(), p.newest))
		fmt.Fprintf(&index, "<sitemap><loc>%s/sitemaps/%d.xml</loc>%s</sitemap>\n", xmlText(base), i+1, lastmodElem(p.newest))
		if p.newest.After(newest) {
			newest = p.newest
		}
	}
	index.WriteString("</sitemapindex>\n")
	files[0] = newSitemapFile(index.Bytes(), newest)
	return files
}

func urlEntry(u sitemapURL) string {
	return "<url><loc>" + xmlText(u.loc) + "</loc>" + lastmodElem(u.lastmod) + "</url>\n"
}

// lastmodElem is a <lastmod> in W3C Datetime (UTC, to the second), or ""
// for an unknown date.
func lastmodElem(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "<lastmod>" + t.UTC().Format(time.RFC3339) + "</lastmod>"
}

// xmlText escapes s for XML character data.
func xmlText(s string) string {
	var b strings.Builder
	xmlEscaper.WriteString(&b, s)
	return b.String()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// handleRobots serves /robots.txt: the public pages are open to crawlers;
// staff and operational routes, and search results (an endless space of
// queries, each of them a search), are not; it names the sitemap.
func (s *Server) handleRobots(w http.ResponseWriter, r *http.Request) {
	base := s.publicBase(r)
	prefix := ""
	if u, err := url.Parse(base); err == nil {
		prefix = strings.TrimRight(u.EscapedPath(), "/")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\nUser-agent: *\n", strings.ReplaceAll(s.site().Title, "\n", " "))
	for _, p := range robotsDisallowed {
		fmt.Fprintf(&b, "Disallow: %s%s\n", prefix, p)
	}
	fmt.Fprintf(&b, "Allow: %s/\n\nSitemap: %s/sitemap.xml\n", prefix, base)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write([]byte(b.String()))
}

// robotsDisallowed are the paths crawlers are asked to leave alone.
var robotsDisallowed = []string{"/admin/", "/status", "/search", "/websub", "/metrics", "/healthz", "/readyz"}
