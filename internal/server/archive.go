package server

import (
	"errors"
	"net/http"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// handleArchive serves /feeds/{channel}/archive/{page}.{atom|rss|json}, the
// RFC 5005 archive pages of a channel.
func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request, loc publish.Location) {
	id, page, format := loc.Channel, loc.Page, loc.Format
	doc, err := s.feeds.Archive(id, page, format)
	switch {
	case errors.Is(err, publish.ErrNoChannel):
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such channel %q", id))
		return
	case errors.Is(err, publish.ErrNoPage):
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "channel %q has no archive page %d", id, page))
		return
	case err != nil:
		s.Error(w, r, err)
		return
	}
	s.serveDocument(w, r, loc, doc)
}
