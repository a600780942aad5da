package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// SourceList gives the configured sources, as the publish cache does.
type SourceList interface {
	Sources() []feed.Source
}

// handleOPML serves every configured source as OPML 2.0, grouped by tag.
func (s *Server) handleOPML(w http.ResponseWriter, r *http.Request) {
	if s.sources == nil {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no source list"))
		return
	}
	body, err := publish.OPML(s.sources.Sources(), "Sources", nil, time.Time{})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/x-opml; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="sources.opml"`)
	w.Header().Set("Cache-Control", "max-age=300")
	sum := sha256.Sum256(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	serveBytes(w, r, time.Time{}, body)
}
