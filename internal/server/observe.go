package server

import (
	"io"
	"net/http"
	"strings"

	"github.com/kpolicy/aggregator/internal/publish"
)

// observe counts, after each response, the requests for published feeds:
// by channel, format and status for the metrics, and per client for the
// subscriber statistics. Other paths pass through untouched.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.Subscribers == nil && s.Feeds == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, publish.FeedsPrefix) {
			next.ServeHTTP(w, r) // not a feed: no path to parse (its error was a fmt.Errorf a page)
			return
		}
		loc, err := publish.ParsePath(r.URL.Path)
		if loc.Page > 0 {
			next.ServeHTTP(w, r) // an archive page
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.count(r, loc, err, sw.status)
	})
}

// count records a response of status to a subscription document's path
// (loc, err from publish.ParsePath): in the metrics by channel, format and
// status, and per client in the subscriber statistics.
func (s *Server) count(r *http.Request, loc publish.Location, err error, status int) {
	channel, format := loc.Channel, string(loc.Format)
	if err != nil {
		format = "other" // the channel's name with an extension that is no format
	}
	if _, known := s.feeds.Channel(channel); !known {
		channel, format = "", "" // keep unknown names out of the metrics' labels
	} else {
		s.Subscribers.Record(channel, status, r)
	}
	if s.Feeds != nil {
		s.Feeds.Output(channel, format, status)
	}
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

// ReadFrom hands a copy to the wrapped writer's own ReadFrom (net/http's
// sends a file with sendfile and copies anything else through a pooled
// buffer): without it, io.Copy would allocate 32 KB per response.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wrote = true
	return io.Copy(w.ResponseWriter, r)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
