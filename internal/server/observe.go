package server

import (
	"net/http"
	"strings"
)

// observe counts, after each response, the requests for published feeds:
// by channel, format and status for the metrics, and per client for the
// subscriber statistics. Other paths pass through untouched.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.Subscribers == nil && s.Feeds == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := strings.CutPrefix(r.URL.Path, "/feeds/")
		if !ok || strings.Contains(file, "/") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		channel, format, _ := strings.Cut(file, ".")
		if format != "atom" && format != "rss" && format != "json" {
			format = "other"
		}
		if _, known := s.feeds.Channel(channel); !known {
			channel, format = "", "" // keep unknown names out of the metrics' labels
		} else {
			s.Subscribers.Record(channel, sw.status, r)
		}
		if s.Feeds != nil {
			s.Feeds.Output(channel, format, sw.status)
		}
	})
}

// statusWriter remembers the status written through it. Unwrap lets
// http.ResponseController reach the connection (flushing, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
