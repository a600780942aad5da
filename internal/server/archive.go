package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// handleArchive serves /feeds/{channel}/archive/{page}.{atom|rss|json}, the
// RFC 5005 archive pages of a channel.
func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	id, file := r.PathValue("channel"), r.PathValue("file")
	num, ext, _ := strings.Cut(file, ".")
	page, err := strconv.Atoi(num)
	format, ferr := publish.ParseFormat(ext)
	if err != nil || ferr != nil || page < 1 || num != strconv.Itoa(page) {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no such archive page %q: use /feeds/CHANNEL/archive/N.atom, .rss or .json", file))
		return
	}
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
	if s.baseURL != "" {
		w.Header().Add("Link", "<"+s.baseURL+r.URL.EscapedPath()+`>; rel="self"`)
	}
	s.serveDocument(w, r, doc)
}
