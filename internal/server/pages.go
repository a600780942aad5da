package server

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

var templateFuncs = template.FuncMap{
	// html marks item HTML as safe: it was sanitised with bluemonday at ingest.
	"html":     func(s string) template.HTML { return template.HTML(s) },
	"entry":    func(s *publish.Snapshot, it feed.Item) itemView { return itemView{Snap: s, Item: it} },
	"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"formats":  func() []publish.Format { return publish.Formats },
	"source": func(snap *publish.Snapshot, id string) publish.SourceInfo {
		if si, ok := snap.Sources[id]; ok {
			return si
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
}

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
	s.render(w, r, "channel.html", channelPage{Channel: snap})
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
