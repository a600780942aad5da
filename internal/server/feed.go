package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// handleFeed serves /feeds/{channel}.{atom|rss|json} from the rendered
// document, answering conditional requests (If-None-Match before
// If-Modified-Since, per RFC 9110) and HEAD through http.ServeContent.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot <= 0 {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such feed %q: use /feeds/CHANNEL.atom, .rss or .json", file))
		return
	}
	id, ext := file[:dot], file[dot+1:]
	format, err := publish.ParseFormat(ext)
	if err != nil {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such feed format %q: use .atom, .rss or .json", ext))
		return
	}
	snap, ok := s.feeds.Snapshot(id)
	if !ok {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such channel %q", id))
		return
	}
	doc := snap.Docs[format]
	if doc == nil {
		s.Error(w, r, fmt.Errorf("channel %s has no %s document", id, format))
		return
	}
	h := w.Header()
	h.Set("Content-Type", format.ContentType())
	h.Set("ETag", doc.ETag)
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.maxAge.Seconds())))
	http.ServeContent(w, r, "", doc.LastModified, bytes.NewReader(doc.Body))
}
