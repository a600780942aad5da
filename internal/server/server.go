// Package server owns the HTTP interface: the routes, conditional feed
// responses served from the rendered documents, and the HTML pages.
//
// It never renders a feed itself: documents come from the publish cache,
// which renders a page on its first request, then keeps it. Every list of
// items it shows (channel pages, the index, an item's channels, search
// results) is read from the membership index, which alone says what a
// channel contains. It does not poll and does not write to the store.
package server

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
)

// Feeds is what the server needs from the publish cache: the configured
// channels and their rendered documents.
type Feeds interface {
	Channel(id string) (*publish.Channel, bool)
	Channels() []*publish.Channel
	// Document and Archive return a channel's subscription document and
	// archive pages, rendered when first asked for; errors wrap
	// publish.ErrNoChannel, publish.ErrNoPage or membership.ErrNotReady.
	Document(channelID string, f publish.Format) (*publish.Document, error)
	Archive(channelID string, page int, f publish.Format) (*publish.Document, error)
	// Site is the identity of the site the documents name: the pages read
	// it from here, so that a reload renames pages and documents at once.
	Site() feed.Site
}

// Health reports whether the store answers.
type Health interface {
	Ping(ctx context.Context) error
}

// Options tunes the server; zero values take the documented defaults.
type Options struct {
	// MaxAge is the Cache-Control max-age of feed documents (default 5 minutes).
	MaxAge time.Duration
	Logger *slog.Logger
	// Sources lists the configured sources, as they are after reloads, for
	// GET /sources.opml and GET /status; nil makes /sources.opml a 404.
	Sources SourceList
	// States feeds GET /status with what the store saved per source. A nil
	// States shows none polled.
	States States
	// BaseURL is the public address the documents name themselves by; it
	// makes the rel="self" Link header of feed responses.
	BaseURL string
	// Hubs are the WebSub hubs named in rel="hub" Link headers.
	Hubs []string
	// WebSub, when set, answers POST /websub (the hub).
	WebSub http.Handler
	// Push, when set, answers GET and POST /websub/callback/… (the WebSub
	// subscriber's callback: verifications and deliveries from hubs).
	Push http.Handler
	// PushCounts, when set, gives GET /status the subscriber's delivery
	// outcomes since start (push.Counts).
	PushCounts func() map[string]uint64

	// The rest is optional (see extras.go): nil leaves the routes that
	// need it answering 404 or 503.
	Extras
}

//go:embed templates
var templateFS embed.FS

// Server is the aggregator's http.Handler.
type Server struct {
	feeds   Feeds
	health  Health
	sources SourceList // for GET /sources.opml and GET /status
	states  States
	log     *slog.Logger
	pages   *template.Template
	mux     *http.ServeMux

	baseURL string
	hubs    []string
	websub  http.Handler
	push    http.Handler
	pushes  func() map[string]uint64
	extras

	now          func() time.Time
	maps         sitemaps
	cacheControl []string      // every document's Cache-Control value, from Options.MaxAge
	handler      http.Handler  // the routes with their wrappers, built once
	searching    chan struct{} // search slots, one per core (searchSlot)
	srcForm      sourceForm    // the search form's source list, rendered
}

// New returns the handler serving every route of routes.go.
func New(feeds Feeds, health Health, o Options) *Server {
	if o.MaxAge <= 0 {
		o.MaxAge = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		feeds:   feeds,
		health:  health,
		sources: o.Sources,
		states:  o.States,
		log:     o.Logger,
		mux:     http.NewServeMux(),

		baseURL:   strings.TrimRight(o.BaseURL, "/"),
		hubs:      o.Hubs,
		websub:    o.WebSub,
		push:      o.Push,
		pushes:    o.PushCounts,
		extras:    newExtras(o.Extras),
		now:       time.Now,
		searching: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	s.cacheControl = []string{fmt.Sprintf("public, max-age=%d", int(o.MaxAge.Seconds()))}
	s.pages = template.Must(template.New("").Funcs(s.funcs()).ParseFS(templateFS, "templates/*.html"))
	s.routes()
	s.handler = securityHeaders(s.observe(http.HandlerFunc(s.route)))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.unchangedFeed(w, r) {
		return
	}
	s.handler.ServeHTTP(w, r)
}

// securityHeaders forbids inline script and framing on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = cspPolicy
		h["X-Content-Type-Options"] = noSniff
		h["Referrer-Policy"] = referrerPolicy
		next.ServeHTTP(w, r)
	})
}
