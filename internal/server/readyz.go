package server

import (
	"fmt"
	"net/http"
)

// handleReadyz answers 200 when the program is ready for traffic (the store
// answers and Ready, if set, says so: config loaded, first poll done), 503
// with the reason otherwise.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err := s.health.Ping(r.Context())
	if err != nil {
		s.log.Error("readyz", "err", err)
		err = fmt.Errorf("store unavailable")
	} else if s.Ready != nil {
		err = s.Ready()
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		http.NotFound(w, r)
		return
	}
	s.Metrics.ServeHTTP(w, r)
}
