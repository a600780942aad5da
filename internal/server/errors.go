package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
)

// unavailable is a 503: what the route needs is missing or busy for now.
// RetryAfter, in seconds, is sent when positive.
type unavailable struct {
	msg        string
	retryAfter int
}

func (e *unavailable) Error() string { return e.msg }

// failure is what an error tells a client: the status, a message for
// people, and a Retry-After when trying again will help.
type failure struct {
	status     int
	msg        string
	retryAfter int
}

// failureOf maps err to what the client is told. Internal causes are
// logged here, once, and never shown: the client reads "internal error".
func (s *Server) failureOf(r *http.Request, err error) failure {
	var busy *unavailable
	switch {
	case errors.Is(err, membership.ErrNotReady):
		return failure{http.StatusServiceUnavailable, "this channel is being indexed; try again in a few seconds", 5}
	case errors.As(err, &busy):
		return failure{http.StatusServiceUnavailable, busy.msg, busy.retryAfter}
	case errors.Is(err, publish.ErrNoChannel), errors.Is(err, membership.ErrNoChannel):
		err = feed.Errorf(feed.ENOTFOUND, "no such channel")
	}
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away mid-request (wrk stopping, a reader
		// closing the tab): nothing failed here, so nothing is logged.
		return failure{status: http.StatusServiceUnavailable, msg: "the request was cancelled"}
	}
	code := feed.ErrorCode(err)
	if code == feed.EINTERNAL {
		s.log.Error("http request", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return failure{status: ErrorStatus(code), msg: feed.ErrorMessage(err)}
}

// ErrorStatus maps an application error code to its HTTP status: the one
// place that does.
func ErrorStatus(code string) int {
	switch code {
	case feed.EINVALID:
		return http.StatusBadRequest
	case feed.ENOTFOUND:
		return http.StatusNotFound
	case feed.EGONE:
		return http.StatusGone
	case feed.ECONFLICT:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// Error writes err as the response of a feed, JSON or file route: the
// status failureOf maps it to and its message as plain text.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	f := s.failureOf(r, err)
	f.headers(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.status)
	w.Write([]byte(f.msg + "\n"))
}

// pageError writes err as the response of a page route: an HTML page in
// the site's style with the status and the message failureOf gives.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.errorPage(w, r, s.failureOf(r, err))
}

func (f failure) headers(w http.ResponseWriter) {
	h := w.Header()
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
}

type errorPage struct {
	Status  int
	Title   string // what happened, in a few words
	Message string // the failure's message, as a sentence
}

// errorTitles name the statuses page routes answer with.
var errorTitles = map[int]string{
	http.StatusBadRequest:            "Bad request",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Method not allowed",
	http.StatusGone:                  "Gone",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "Too large",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusInternalServerError:   "Something went wrong",
	http.StatusServiceUnavailable:    "Not available yet",
}

// errorPage writes f as an HTML page, or as plain text should the page
// itself fail to render.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, f failure) {
	title := errorTitles[f.status]
	if title == "" {
		title = http.StatusText(f.status)
	}
	var buf strings.Builder
	if err := s.pages.ExecuteTemplate(&buf, "error.html", errorPage{Status: f.status, Title: title, Message: sentence(f.msg)}); err != nil {
		s.log.Error("render error page", "status", f.status, "err", err)
		f.headers(w)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.status)
		w.Write([]byte(f.msg + "\n"))
		return
	}
	f.headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(f.status)
	w.Write([]byte(buf.String()))
}

// sentence starts msg with a capital and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// handleNoRoute answers a request no route takes: 405 with Allow when a
// route takes its path with another method, else 404. Feed paths answer in
// plain text, as their routes do; every other path with an error page.
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != noRoute {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	f := failure{status: http.StatusNotFound, msg: "there is no page at this address"}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		f = failure{status: http.StatusMethodNotAllowed, msg: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")}
	}
	if strings.HasPrefix(r.URL.Path, publish.FeedsPrefix) {
		f.headers(w)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.status)
		w.Write([]byte(f.msg + "\n"))
		return
	}
	s.errorPage(w, r, f)
}

// noRoute is the pattern of handleNoRoute: every path, every method, the
// least specific of all.
const noRoute = "/"
