package server

import (
	"net/http"
	"path"
	"strings"

	"github.com/kpolicy/aggregator/internal/publish"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("GET /channels/{id}", s.handleChannel)
	// Subscription documents and archive pages: publish.ParsePath tells them apart.
	s.mux.HandleFunc("GET "+publish.FeedsPrefix+"{doc...}", s.handleDocument)
	s.mux.HandleFunc("GET /style.css", s.handleStyle)
	s.mux.HandleFunc("GET /robots.txt", s.handleRobots)
	s.mux.HandleFunc("GET /sitemap.xml", s.handleSitemap)
	s.mux.HandleFunc("GET /sitemaps/{file}", s.handleSitemapPart)
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /sources.opml", s.handleOPML)
	s.mux.HandleFunc("GET /status", s.handleStatus)
	if s.websub != nil {
		s.mux.Handle("POST /websub", s.websub)
	}
	if s.push != nil {
		s.mux.Handle("GET /websub/callback/", s.push)
		s.mux.Handle("POST /websub/callback/", s.push)
	}
	s.mux.HandleFunc("GET /items/{ref}", s.handleItem)
	s.mux.HandleFunc("GET /search", s.handleSearch)
	s.mux.HandleFunc("GET /opensearch.xml", s.handleOpenSearch)
	s.mux.HandleFunc("GET /status/subscribers", s.handleSubscribers)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("GET /admin/backup", s.admin(s.handleBackup))
	s.mux.HandleFunc("GET /admin/status", s.admin(s.handleAdminStatus))
	s.mux.HandleFunc("POST /admin/poll", s.admin(s.handleAdminPoll))
	s.mux.HandleFunc("POST /admin/sources/{id}/poll", s.admin(s.handleAdminPollSource))
	s.mux.HandleFunc("POST /admin/preview", s.admin(s.handleAdminPreview))
	s.mux.HandleFunc("GET /admin/explain", s.admin(s.handleAdminExplain))
	s.mailRoutes()
	s.mux.HandleFunc(noRoute, s.handleNoRoute) // 404 and 405 in the site's style
}

// route is the mux with one shortcut: a GET or HEAD of a clean path under
// publish.FeedsPrefix goes straight to handleDocument, the route the mux
// would have chosen for it ("GET /feeds/{doc...}" above, which still takes
// the paths the mux would first clean and redirect). The feeds are nearly
// every request a site gets, and the mux's pattern matching was a quarter
// of a 304's handling (BenchmarkFeedHandler).
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if isDocument(r) {
		s.handleDocument(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// isDocument reports whether r reads a path of the feed URL scheme
// (handleDocument).
func isDocument(r *http.Request) bool {
	p := r.URL.Path
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(p) > len(publish.FeedsPrefix) &&
		strings.HasPrefix(p, publish.FeedsPrefix) && path.Clean(p) == p
}
