package server

import "github.com/kpolicy/aggregator/internal/publish"

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
