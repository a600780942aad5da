package server

import (
	"bytes"
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/tracking"
)

var templateFuncs = template.FuncMap{
	"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"formats":  func() []publish.Format { return publish.Formats },
	// source names a source, the channel's or another (the first origin
	// of a story a later carrier brought in).
	"source": func(c *publish.Channel, id string) publish.SourceInfo {
		if c == nil {
			return publish.SourceInfo{ID: id, Title: id}
		}
		return c.Source(id)
	},
	// carriers returns the other sources that carried an item, each once.
	"carriers": func(it feed.Item) []feed.Origin {
		var out []feed.Origin
		seen := map[string]bool{it.SourceID: true}
		for _, o := range it.Origins {
			if !seen[o.SourceID] {
				seen[o.SourceID] = true
				out = append(out, o)
			}
		}
		return out
	},
	"formatName": func(f publish.Format) string {
		switch f {
		case publish.Atom:
			return "Atom"
		case publish.RSS:
			return "RSS"
		case publish.JSON:
			return "JSON Feed"
		}
		return string(f)
	},
	// typeAttr is the type="…" attribute of a feed link, written as a whole
	// so that html/template does not entity-escape the "+" of the MIME type.
	"typeAttr": func(f publish.Format) template.HTMLAttr {
		mime, _, _ := strings.Cut(f.ContentType(), ";")
		return template.HTMLAttr(`type="` + mime + `"`)
	},
	"ref":      func(it feed.Item) string { return it.Ref() },
	"lang":     textLang,
	"people":   people,
	"media":    mediaKind,
	"size":     humanSize,
	"filename": fileName,
	// feedPath is where a channel's subscription document of format f is
	// served (publish owns the scheme).
	"feedPath": func(channel string, f publish.Format) string {
		return publish.Location{Channel: channel, Format: f}.Path()
	},
	"add": func(ns ...int) int {
		sum := 0
		for _, n := range ns {
			sum += n
		}
		return sum
	},
}

// textLang is the lang attribute of an item's own text (its title, summary,
// content, categories): its language, which parse took from the item,
// else from its feed, in canonical form; "" when unknown or not a language
// tag, and the text then takes the page's.
func textLang(tag string) string {
	if tag == "" {
		return ""
	}
	t, err := language.Parse(tag)
	if err != nil {
		return ""
	}
	if base, _, _ := t.Raw(); base.String() == "und" {
		return ""
	}
	return t.String()
}

// person is an author as a byline shows them: a name, and a link when
// the feed gave an http(s) URI.
type person struct {
	Name string
	URL  string
}

// people returns the authors a byline names: each with a name (else the
// e-mail address the feed gave), the name linked to the author's URI when
// that is an http(s) URL; authors with neither are left out.
func people(ps []feed.Person) []person {
	var out []person
	for _, p := range ps {
		name := strings.TrimSpace(p.Name)
		if name == "" {
			name = strings.TrimSpace(p.Email)
		}
		if name == "" {
			continue
		}
		out = append(out, person{Name: name, URL: webURL(p.URI)})
	}
	return out
}

// webURL returns s when it is an absolute http(s) URL with a host, else "".
func webURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// mediaKind says which player an attachment of MIME type t gets: "audio",
// "video", or "" for none. Both play without script, which the pages'
// Content-Security-Policy forbids.
func mediaKind(t string) string {
	kind, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(t)), "/")
	if kind == "audio" || kind == "video" {
		return kind
	}
	return ""
}

// humanSize writes n bytes for a reader ("12.3 MB", powers of 1000); ""
// when unknown (0 or less).
func humanSize(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n < 1000:
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		v, unit = v/1000, u
		if v < 1000 {
			break
		}
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
}

// fileName is the last path segment of a URL, unescaped ("episode 9.mp3"),
// else the whole URL: what a link to an attachment is labelled.
func fileName(s string) string {
	u, err := url.Parse(s)
	if err != nil || strings.HasSuffix(u.Path, "/") {
		return s
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		return s
	}
	return name
}

// funcs is templateFuncs plus those that need the server.
func (s *Server) funcs() template.FuncMap {
	f := maps.Clone(templateFuncs)
	// html sanitises item HTML again (bluemonday UGC policy) and marks it
	// safe: it was sanitised at ingest, but a page must not trust the store.
	// Tracking is removed again too (tracking.StripHTML), for items stored
	// before a rule existed.
	f["html"] = func(h string) template.HTML { return template.HTML(s.policy.Sanitize(tracking.StripHTML(h))) }
	f["site"] = s.site
	f["mailing"] = func(c *publish.Channel) bool { return s.Lists != nil && c != nil && c.Channel.Mail.Mode != "" }
	return f
}

// site is the identity pages show: Feeds.Site, with the program's name
// and English for a cache that was never given one.
func (s *Server) site() feed.Site {
	st := s.feeds.Site()
	if st.Title == "" {
		st.Title = "aggregator"
	}
	if st.Language == "" {
		st.Language = "en"
	}
	return st
}

// itemView is one item of a list, with the channel that names its
// sources and whether a pin put it there.
type itemView struct {
	Snap   *publish.Channel
	Item   feed.Item
	Pinned bool
}

// entries are the items of p as channel c lists them.
func entries(c *publish.Channel, p membership.Page) []itemView {
	out := make([]itemView, len(p.Items))
	for i, it := range p.Items {
		out[i] = itemView{Snap: c, Item: it, Pinned: i < len(p.Pinned) && p.Pinned[i]}
	}
	return out
}

type indexPage struct {
	Channels []preview
}

// preview is a channel on the index page with its newest items.
type preview struct {
	Snap  *publish.Channel
	Items []itemView
	More  bool
}

type channelPage struct {
	Channel *publish.Channel
	Items   []itemView
	Page    int
	Prev    string // link to the newer page; "" on the first
	Next    string // link to the older page; "" on the last
}

// pageSize is the number of items on one channel page.
const pageSize = 20

// maxPage bounds how deep channel pages go by number (20,000 items); the
// Older links carry a cursor, which costs the same at any depth.
const maxPage = 1000

// previewItems is the number of a channel's newest items the index shows.
const previewItems = 5

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	var v indexPage
	for _, c := range s.feeds.Channels() {
		p := preview{Snap: c}
		if s.Members != nil {
			page, err := s.Members.Older(r.Context(), c.Channel.ID, nil, previewItems)
			if err != nil && !errors.Is(err, membership.ErrNotReady) {
				s.pageError(w, r, err)
				return
			}
			p.Items, p.More = entries(c, page), page.More
		}
		v.Channels = append(v.Channels, p)
	}
	s.render(w, r, "index.html", v)
}

// handleChannel serves a channel's HTML pages: its members in the order of
// its subscription documents, pageSize at a time. "Older" and "Newer" links
// carry the position of the last (first) item shown, so any page costs one
// page of reads and a member never shows twice while paging, whatever
// arrives meanwhile; ?page=N alone (a bookmark) steps over N-1 pages of
// index entries.
func (s *Server) handleChannel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ch, ok := s.feeds.Channel(id)
	if !ok || s.Members == nil {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "no such channel %q", id))
		return
	}
	q := r.URL.Query()
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPage {
			s.pageError(w, r, feed.Errorf(feed.EINVALID, "page must be a whole number from 1 to %d", maxPage))
			return
		}
		page = n
	}
	var (
		p   membership.Page
		err error
	)
	cursor := func(name string) (membership.Cursor, bool) {
		c, ok := membership.ParseCursor(q.Get(name))
		if !ok {
			s.pageError(w, r, feed.Errorf(feed.EINVALID, "%s is not a position in the channel", name))
		}
		return c, ok
	}
	older, newer := q.Has("after"), q.Has("before")
	switch {
	case older:
		c, ok := cursor("after")
		if !ok {
			return
		}
		p, err = s.Members.Older(r.Context(), id, &c, pageSize)
	case newer:
		c, ok := cursor("before")
		if !ok {
			return
		}
		p, err = s.Members.Newer(r.Context(), id, c, pageSize)
	default:
		p, err = s.Members.Skip(r.Context(), id, (page-1)*pageSize, pageSize)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if len(p.Items) == 0 && page > 1 {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "channel %q has no page %d", id, page))
		return
	}
	v := channelPage{Channel: ch, Page: page, Items: entries(ch, p)}
	base := "/channels/" + url.PathEscape(id)
	hasPrev, hasNext := page > 1, p.More
	if newer {
		hasPrev, hasNext = p.More, len(p.Items) > 0 // newer pages always have the one they came from after them
	}
	if hasPrev && page > 1 {
		v.Prev = base + "?page=" + strconv.Itoa(page-1) + "&before=" + p.First.String()
		if page == 2 {
			v.Prev = base
		}
	}
	if hasNext && page < maxPage {
		v.Next = base + "?page=" + strconv.Itoa(page+1) + "&after=" + p.Last.String()
	}
	s.render(w, r, "channel.html", v)
}

type itemPage struct {
	Item     feed.Item
	Source   publish.SourceInfo
	Channels []*publish.Channel // the channels that show the item
	Origins  []originView
}

type originView struct {
	feed.Origin
	Source publish.SourceInfo
}

// handleItem serves a story's page, if a channel shows it: an item no
// channel shows (hidden, excluded, past every limit, of a source no
// channel selects) is published nowhere, and is not found here either.
func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	src, key, ok := feed.ParseItemRef(ref)
	if !ok || s.Items == nil || s.Members == nil {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "no such item"))
		return
	}
	it, err := s.Items.Item(r.Context(), src, key)
	if feed.ErrorCode(err) == feed.ENOTFOUND {
		err = feed.Errorf(feed.ENOTFOUND, "no such item")
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	ids, err := s.Members.ChannelsOf(r.Context(), it)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if len(ids) == 0 && s.Members.Withdrawn(it) {
		s.pageError(w, r, feed.Errorf(feed.EGONE, "this item was withdrawn"))
		return
	} else if len(ids) == 0 {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "no such item"))
		return
	}
	v := itemPage{Item: it, Source: s.sourceInfo(src)}
	for _, id := range ids {
		if c, ok := s.feeds.Channel(id); ok {
			v.Channels = append(v.Channels, c)
		}
	}
	for _, o := range it.Origins {
		v.Origins = append(v.Origins, originView{Origin: o, Source: s.sourceInfo(o.SourceID)})
	}
	s.render(w, r, "item.html", v)
}

// sourceInfo names a source.
func (s *Server) sourceInfo(id string) publish.SourceInfo {
	if cs := s.feeds.Channels(); len(cs) > 0 {
		return cs[0].Source(id) // every channel names every source alike
	}
	return publish.SourceInfo{ID: id, Title: id}
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

func (s *Server) handleStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, templateFS, "templates/style.css")
}
