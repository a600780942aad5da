package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// Admin is what the command line's /admin routes ask the running service.
// Each answer is a value encoded as JSON (the types are the service's);
// errors map to their status as every error of the server does.
type Admin interface {
	// Poll polls the sources ids name (every one when empty) now, with
	// their backoff reset.
	Poll(ctx context.Context, ids []string) (any, error)
	// PollSource polls one source so, answering its one result.
	PollSource(ctx context.Context, id string) (any, error)
	// Preview is what a channel would contain with a posted config.
	Preview(ctx context.Context, r PreviewRequest) (any, error)
	// Explain explains the stored copies an item query names.
	Explain(ctx context.Context, item string) (any, error)
}

// PreviewRequest is POST /admin/preview: the config file's bytes, the name
// its problems give it, the channel, and whether to compare with the
// running config.
type PreviewRequest struct {
	Config  []byte
	File    string
	Channel string
	Compare bool
}

// maxAdminBody bounds a posted config: well over what config.Parse reads
// (it reports a larger file as a problem).
const maxAdminBody = 1 << 20

// bodyTimeout is how long a large request body may take to arrive, from
// the handler's start (the server gives a whole request 10 s).
const bodyTimeout = 30 * time.Second

// adminPollTime is how long a poll of every source may take to answer;
// each poll is bounded by fetch.timeout, the whole by this.
const adminPollTime = 30 * time.Minute

// handleAdminPollSource answers POST /admin/sources/{id}/poll with the one
// poll's result.
func (s *Server) handleAdminPollSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.adminPoll(w, r, func(ctx context.Context) (any, error) { return s.Admin.PollSource(ctx, id) })
}

// handleAdminPoll answers POST /admin/poll (?source=ID, repeatable; none:
// every source) with every poll's result, in order.
func (s *Server) handleAdminPoll(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["source"]
	s.adminPoll(w, r, func(ctx context.Context) (any, error) { return s.Admin.Poll(ctx, ids) })
}

func (s *Server) adminPoll(w http.ResponseWriter, r *http.Request, poll func(context.Context) (any, error)) {
	if s.Admin == nil {
		http.NotFound(w, r)
		return
	}
	// Polls take as long as origins do: longer than a page may.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(adminPollTime))
	res, err := poll(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, res)
}

// handleAdminPreview answers POST /admin/preview?channel=ID[&file=NAME][&compare=1]
// with the config file as the body.
func (s *Server) handleAdminPreview(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		http.NotFound(w, r)
		return
	}
	// The server's read deadline is its 10 s for a whole request; a MiB
	// from a slow link gets longer (an error here: a writer without deadlines).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, "the config must be at most 1 MiB", http.StatusRequestEntityTooLarge)
		return
	case err != nil: // cut short, or slower than bodyTimeout
		http.Error(w, "the config did not arrive whole: "+err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	res, err := s.Admin.Preview(r.Context(), PreviewRequest{Config: body, File: q.Get("file"), Channel: q.Get("channel"), Compare: q.Get("compare") == "1"})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, res)
}

// handleAdminExplain answers GET /admin/explain?item=ITEM.
func (s *Server) handleAdminExplain(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		http.NotFound(w, r)
		return
	}
	res, err := s.Admin.Explain(r.Context(), r.URL.Query().Get("item"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, res)
}

// handleAdminStatus answers GET /admin/status: what GET /status?format=json
// shows, for the status command.
func (s *Server) handleAdminStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, st)
}
