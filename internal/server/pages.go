package server

import (
	"bytes"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/tracking"
)

var templateFuncs = template.FuncMap{
	"entry":    func(s *publish.Snapshot, it feed.Item) itemView { return itemView{Snap: s, Item: it} },
	"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"formats":  func() []publish.Format { return publish.Formats },
	"source": func(snap *publish.Snapshot, id string) publish.SourceInfo {
		if snap != nil {
			if si, ok := snap.Sources[id]; ok {
				return si
			}
		}
		if si, ok := snap.AllSources[id]; ok {
			return si // the first origin of a story a later source carried
		}
		return publish.SourceInfo{ID: id, Title: id}
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
	"ref": func(it feed.Item) string { return it.Ref() },
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

// funcs is templateFuncs plus those that need the server.
func (s *Server) funcs() template.FuncMap {
	f := maps.Clone(templateFuncs)
	// html sanitises item HTML again (bluemonday UGC policy) and marks it
	// safe: it was sanitised at ingest, but a page must not trust the store.
	// Tracking is removed again too (tracking.StripHTML), for items stored
	// before a rule existed.
	f["html"] = func(h string) template.HTML { return template.HTML(s.policy.Sanitize(tracking.StripHTML(h))) }
	return f
}

// itemView is one item with the snapshot that names its source.
type itemView struct {
	Snap *publish.Snapshot
	Item feed.Item
}

type indexPage struct {
	Channels []*publish.Snapshot
	Preview  int // newest items shown per channel
}

type channelPage struct {
	Channel *publish.Snapshot
	Items   []feed.Item
	Page    int
	Prev    string // link to the newer page; "" on the first
	Next    string // link to the older page; "" on the last
}

// pageSize is the number of items on one channel page.
const pageSize = 20

// maxPage bounds how deep channel pages go (20,000 items).
const maxPage = 1000

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "index.html", indexPage{Channels: s.feeds.Channels(), Preview: 5})
}

func (s *Server) handleChannel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	snap, ok := s.feeds.Snapshot(id)
	if !ok {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such channel %q", id))
		return
	}
	page := 1
	if p := r.URL.Query().Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPage {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "page must be a whole number from 1 to %d", maxPage))
			return
		}
		page = n
	}
	// The snapshot holds the newest Channel.Limit items; past them the
	// store is asked, for one item more than the page to know if another
	// page follows.
	items := snap.Items
	if end := page*pageSize + 1; end > len(items) && len(items) >= snap.Channel.Limit && s.Items != nil {
		ids := make([]string, 0, len(snap.Sources))
		for id := range snap.Sources {
			ids = append(ids, id)
		}
		var err error
		if items, err = s.Items.Items(ids, end); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	start := (page - 1) * pageSize
	if start >= len(items) && page > 1 {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "channel %q has no page %d", id, page))
		return
	}
	v := channelPage{Channel: snap, Page: page, Items: items[start:min(len(items), start+pageSize)]}
	if page > 1 {
		v.Prev = "/channels/" + url.PathEscape(id) + "?page=" + strconv.Itoa(page-1)
		if page == 2 {
			v.Prev = "/channels/" + url.PathEscape(id)
		}
	}
	if len(items) > start+pageSize && page < maxPage {
		v.Next = "/channels/" + url.PathEscape(id) + "?page=" + strconv.Itoa(page+1)
	}
	s.render(w, r, "channel.html", v)
}

type itemPage struct {
	Item     feed.Item
	Source   publish.SourceInfo
	Channels []*publish.Snapshot // the channels that carry the item's source
	Origins  []originView
}

type originView struct {
	feed.Origin
	Source publish.SourceInfo
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	src, key, ok := feed.ParseItemRef(ref)
	if !ok || s.Items == nil {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such item"))
		return
	}
	it, err := s.Items.Item(src, key)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	v := itemPage{Item: it, Source: s.sourceInfo(src)}
	for _, snap := range s.feeds.Channels() {
		if _, ok := snap.Sources[src]; ok {
			v.Channels = append(v.Channels, snap)
		}
	}
	for _, o := range it.Origins {
		v.Origins = append(v.Origins, originView{Origin: o, Source: s.sourceInfo(o.SourceID)})
	}
	s.render(w, r, "item.html", v)
}

// sourceInfo names a source from any channel that selects it.
func (s *Server) sourceInfo(id string) publish.SourceInfo {
	for _, snap := range s.feeds.Channels() {
		if si, ok := snap.Sources[id]; ok {
			return si
		}
	}
	return publish.SourceInfo{ID: id, Title: id}
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.Error(w, r, err)
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
