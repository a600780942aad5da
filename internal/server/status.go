package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// States is what the status page needs from the store: the saved state of
// every source polled so far. *store.DB implements it.
type States interface {
	States(ctx context.Context) ([]feed.SourceState, error)
}

// SourceStatus is one source as GET /status shows it: the configured source
// and what the poller last recorded about it. The JSON names are part of
// the /status?format=json contract.
type SourceStatus struct {
	ID             string      `json:"id"`
	Title          string      `json:"title,omitempty"`
	ConfiguredURL  string      `json:"configured_url"`
	CurrentURL     string      `json:"current_url"`              // polled: the adopted redirect target, else the discovered feed, else the configured URL
	DiscoveredURL  string      `json:"discovered_url,omitempty"` // the feed the configured HTML page announced (autodiscovery)
	FinalURL       string      `json:"final_url,omitempty"`      // where the last poll ended after redirects
	Disabled       bool        `json:"disabled"`
	Retired        bool        `json:"retired"`
	Polled         bool        `json:"polled"`
	LastStatus     int         `json:"last_status,omitempty"`
	LastPoll       time.Time   `json:"last_poll,omitzero"`
	LastSuccess    time.Time   `json:"last_success,omitzero"`
	LastError      string      `json:"last_error,omitempty"`
	Errors         int         `json:"consecutive_errors"`
	NextPoll       time.Time   `json:"next_poll,omitzero"`
	Items          int         `json:"items"`
	ETag           string      `json:"etag,omitempty"`
	LastModified   string      `json:"last_modified,omitempty"`
	RedirectTarget string      `json:"redirect_target,omitempty"`
	RedirectCount  int         `json:"redirect_count,omitempty"`
	Warning        string      `json:"warning,omitempty"`
	ParsingSince   time.Time   `json:"parsing_since,omitzero"` // a parse of a new body is under way (or its process stopped in it)
	Push           *PushStatus `json:"websub,omitempty"`       // the source's WebSub subscription, when it has one
	// Warnings are what staff should know of the source: the last poll's
	// warning (a repeated GUID, a Retry-After), a permanent redirect seen
	// but not adopted yet, an adopted one feeds.yaml does not name.
	Warnings []string `json:"warnings,omitempty"`
}

// PushStatus is a source's WebSub subscription as GET /status shows it
// (never its secret). The JSON names are part of the /status?format=json
// contract.
type PushStatus struct {
	Hub          string    `json:"hub"`
	Topic        string    `json:"topic"`
	State        string    `json:"state"` // subscribing, active, unsubscribing, denied
	Expires      time.Time `json:"expires,omitzero"`
	LastDelivery time.Time `json:"last_delivery,omitzero"`
	Error        string    `json:"error,omitempty"`
}

// Failing reports whether the source's last poll failed (and it is still
// polled).
func (s SourceStatus) Failing() bool { return s.Errors > 0 && !s.Retired }

// Status is GET /status and GET /admin/status, and what the status command
// prints: the running config, every configured source (failing ones
// first), the search index. The JSON names are part of the
// /status?format=json contract.
type Status struct {
	Config  *ConfigStatus  `json:"config,omitempty"`
	Sources []SourceStatus `json:"sources"`
	Index   *IndexStatus   `json:"search_index,omitempty"`
	// Pushes are the WebSub subscriber's deliveries since start, by outcome.
	Pushes map[string]uint64 `json:"websub_deliveries,omitempty"`
	Mail   []MailListStatus  `json:"mail_lists,omitempty"`
}

// ConfigStatus is the running config: its file, when it was loaded, its
// warnings, and the last reload refused since (nil when none was, or a
// later one was accepted).
type ConfigStatus struct {
	File     string          `json:"file"`
	Loaded   time.Time       `json:"loaded,omitzero"`
	Warnings []string        `json:"warnings,omitempty"`
	Rejected *RejectedReload `json:"rejected_reload,omitempty"`
	// Instance is this instance's owner id among those sharing the store
	// (host/pid/random); Leases the poll leases it holds now, -1 when
	// the store is not shared.
	Instance string `json:"instance,omitempty"`
	Leases   int    `json:"leases_held"`
}

// RejectedReload is a reload that was refused: the running config stayed.
// Problems are each as "file:line: path: message".
type RejectedReload struct {
	At       time.Time `json:"at"`
	Why      string    `json:"why"`
	Problems []string  `json:"problems"`
}

// FailingFirst orders list in place: the failing sources first, then the
// rest, each in the order given.
func FailingFirst(list []SourceStatus) {
	slices.SortStableFunc(list, func(a, b SourceStatus) int {
		switch fa, fb := a.Failing(), b.Failing(); {
		case fa && !fb:
			return -1
		case fb && !fa:
			return 1
		}
		return 0
	})
}

// StatusOf joins each configured source with its saved state, in the order
// of sources; a source never polled has Polled false.
func StatusOf(sources []feed.Source, states []feed.SourceState) []SourceStatus {
	byID := make(map[string]feed.SourceState, len(states))
	for _, st := range states {
		byID[st.SourceID] = st
	}
	out := make([]SourceStatus, 0, len(sources))
	for _, src := range sources {
		s := SourceStatus{ID: src.ID, Title: src.Title, ConfiguredURL: src.URL, CurrentURL: src.URL, Disabled: src.Disabled}
		st, ok := byID[src.ID]
		// A state written for another URL belongs to the source's old
		// configuration: its retirement and redirect no longer apply.
		current := ok && (st.ConfiguredURL == "" || st.ConfiguredURL == src.URL)
		if ok {
			s.Polled = st.Polled()
			s.FinalURL = st.URL
			s.LastStatus, s.LastPoll, s.LastSuccess = st.LastStatus, st.LastPoll, st.LastSuccess
			s.LastError, s.Errors, s.NextPoll = st.LastError, st.Errors, st.NextPoll
			s.Items, s.ETag, s.LastModified = st.Items, st.ETag, st.LastModified
			s.ParsingSince = st.Parsing
			if p := st.Push; p.State != feed.PushNone {
				s.Push = &PushStatus{Hub: p.Hub, Topic: p.Topic, State: string(p.State), Expires: p.Expires, LastDelivery: p.LastDelivery, Error: p.Error}
			}
			if s.Title == "" {
				s.Title = st.Title
			}
		}
		if current {
			s.CurrentURL = st.PollURL(src.URL)
			s.DiscoveredURL = st.DiscoveredURL
			s.Retired = st.Retired
			s.RedirectTarget, s.RedirectCount = st.RedirectTarget, st.RedirectCount
			s.Warning = st.Warning
			if st.Warning != "" {
				s.Warnings = append(s.Warnings, st.Warning)
			}
			if st.RedirectTarget != "" {
				s.Warnings = append(s.Warnings, fmt.Sprintf("redirect pending: %d consecutive polls were sent permanently to %s, not adopted yet", st.RedirectCount, st.RedirectTarget))
			}
			if s.CurrentURL != src.URL {
				s.Warnings = append(s.Warnings, fmt.Sprintf("polled at %s, where the configured URL redirects permanently: put it in feeds.yaml", s.CurrentURL))
			}
		}
		out = append(out, s)
	}
	return out
}

type statusPage struct {
	Config  *ConfigStatus
	Sources []SourceStatus
	Failing int
	Retired int
	Index   *IndexStatus
	Pushes  map[string]uint64
	Mail    []MailListStatus
}

// IndexStatus is the search indexer as GET /status shows it: how far behind
// the store it is, and its failures. The JSON names are part of the
// /status?format=json contract.
type IndexStatus struct {
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Failing     int       `json:"consecutive_errors"`
	Failures    int       `json:"errors"`
	NextTry     time.Time `json:"next_try,omitzero"`
	// Behind counts the store's writes not in the index yet (0: caught
	// up), including those the membership indexes have still to judge.
	Behind uint64 `json:"behind"`
}

// indexStatus is the indexer's state, or nil when there is none to show.
func (s *Server) indexStatus() *IndexStatus {
	if s.Indexing == nil {
		return nil
	}
	st := s.Indexing()
	return &IndexStatus{LastSuccess: st.LastSuccess, LastError: st.LastError, Failing: st.Failing, Failures: st.Failures, NextTry: st.NextTry, Behind: st.Behind}
}

// status is what GET /status shows: the sources joined with their states,
// failing first.
func (s *Server) status(ctx context.Context) (Status, error) {
	var states []feed.SourceState
	if s.states != nil {
		var err error
		if states, err = s.states.States(ctx); err != nil {
			return Status{}, err
		}
	}
	st := Status{Sources: StatusOf(s.sourceList(), states), Index: s.indexStatus(), Pushes: s.pushCounts()}
	FailingFirst(st.Sources)
	var err error
	if st.Mail, err = s.mailStatus(ctx); err != nil {
		return Status{}, err
	}
	if s.Running != nil {
		cs := s.Running()
		st.Config = &cs
	}
	return st, nil
}

// handleStatus answers GET /status: an HTML page, or JSON with
// ?format=json. Without a States the sources are listed as never polled.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	fail := s.pageError
	if r.URL.Query().Get("format") == "json" {
		fail = s.Error
	}
	st, err := s.status(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "json":
		s.writeJSON(w, r, st)
	case "", "html":
		page := statusPage{Config: st.Config, Sources: st.Sources, Index: st.Index, Pushes: st.Pushes, Mail: st.Mail}
		for _, src := range st.Sources {
			if src.Retired {
				page.Retired++
			} else if src.Errors > 0 {
				page.Failing++
			}
		}
		s.render(w, r, "status.html", page)
	default:
		s.pageError(w, r, feed.Errorf(feed.EINVALID, "format must be html or json"))
	}
}

// pushCounts is the WebSub subscriber's delivery outcomes, or nil.
func (s *Server) pushCounts() map[string]uint64 {
	if s.pushes == nil {
		return nil
	}
	return s.pushes()
}

// writeJSON answers v as indented JSON, never cached.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(body, '\n'))
}

// sourceList returns the configured sources as they are now, or none.
func (s *Server) sourceList() []feed.Source {
	if s.sources == nil {
		return nil
	}
	return s.sources.Sources()
}
