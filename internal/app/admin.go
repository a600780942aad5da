package app

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/server"
)

// The staff tools (fetch, preview, explain, status) compute their answer
// with the functions of admin.go, preview.go and explain.go, whether the
// command opened the store itself or asked a running server over its
// /admin routes: the App's methods below are what those routes call, and
// the command renders the same result types either way.

// Polled is one poll as the fetch command prints it and POST /admin/poll
// answers: what the poll did, and the source's state after it. The JSON
// names are part of the admin API.
type Polled struct {
	SourceID    string           `json:"source"`
	URL         string           `json:"url"`
	Status      int              `json:"status,omitempty"`
	NotModified bool             `json:"not_modified,omitempty"`
	Skipped     bool             `json:"skipped,omitempty"`
	Retired     bool             `json:"retired,omitempty"`
	Counts      feed.PollCounts  `json:"counts"`
	Error       string           `json:"error,omitempty"`
	Warning     string           `json:"warning,omitempty"`
	NextPoll    time.Time        `json:"next_poll,omitzero"`
	State       feed.SourceState `json:"state"`
}

// StateReader reads one source's saved state.
type StateReader interface {
	State(ctx context.Context, sourceID string) (feed.SourceState, error)
}

// SelectSources returns the sources of cfg that ids name, in the order of
// ids, or every source when ids is empty. A source named explicitly is
// polled even if disabled. An unknown id is a feed.ENOTFOUND error listing
// the configured ones.
func SelectSources(cfg config.Config, ids []string) ([]feed.Source, error) {
	if len(ids) == 0 {
		return cfg.Sources, nil
	}
	out := make([]feed.Source, 0, len(ids))
	for _, id := range ids {
		src, ok := cfg.Source(id)
		if !ok {
			known := make([]string, 0, len(cfg.Sources))
			for _, s := range cfg.Sources {
				known = append(known, s.ID)
			}
			return nil, feed.Errorf(feed.ENOTFOUND, "no source %q (sources: %s)", id, strings.Join(known, ", "))
		}
		src.Disabled = false
		out = append(out, src)
	}
	return out, nil
}

// PollSources polls sources now with p, each with its backoff reset
// (fetch.Poller.PollAll), and returns each result with its source's state
// after the poll (a state that cannot be read is left empty but for its id).
func PollSources(ctx context.Context, p *fetch.Poller, st StateReader, sources []feed.Source) []Polled {
	results := p.PollAll(ctx, sources)
	out := make([]Polled, len(results))
	for i, r := range results {
		state, err := st.State(context.WithoutCancel(ctx), r.SourceID)
		if err != nil {
			state = feed.SourceState{SourceID: r.SourceID}
		}
		out[i] = Polled{SourceID: r.SourceID, URL: r.URL, Status: r.Status, NotModified: r.NotModified,
			Skipped: r.Skipped, Retired: r.Retired, Counts: r.Counts, Warning: r.Warning, NextPoll: r.NextPoll, State: state}
		if r.Err != nil {
			out[i].Error = r.Err.Error()
		}
	}
	return out
}

// Poll polls the running config's sources that ids name (every one when
// ids is empty) now, with their backoff reset, through the service's own
// poller (its concurrency and per-host pacing hold), and reports each as
// the poll loop does. The poll loop's own schedule is unchanged: a source
// polled here is polled again when it was due. POST /admin/poll and POST
// /admin/sources/{id}/poll call it.
func (a *App) Poll(ctx context.Context, ids []string) ([]Polled, error) {
	sources, err := SelectSources(a.Config(), ids)
	if err != nil {
		return nil, err
	}
	return PollSources(ctx, a.poller.Load(), a.st, sources), nil
}

// Preview answers POST /admin/preview: what channel would contain with the
// config in body (named file in its problems), against what the service
// stores, and, when compare is set, what changes against the running
// config. A config that does not parse or validate is a feed.EINVALID
// error with every problem.
func (a *App) Preview(ctx context.Context, body []byte, file, channel string, compare bool) (PreviewResult, error) {
	if file == "" {
		file = "the posted config"
	}
	next, err := config.Parse(bytes.NewReader(body), file)
	if err != nil {
		return PreviewResult{}, feed.Errorf(feed.EINVALID, "%s", problemText(err))
	}
	req := PreviewRequest{Config: next, File: file, Channel: channel}
	if compare {
		running := a.Config()
		req.Running, req.RunningFile = &running, a.configFile()
	}
	return Preview(ctx, a.st, req, a.now())
}

// Explain answers GET /admin/explain: every stored copy item names,
// explained against the running config.
func (a *App) Explain(ctx context.Context, item string) ([]Explanation, error) {
	return Explain(ctx, a.st, a.Config(), item)
}

// Running is the running config as GET /status shows it: its file, when
// it was loaded, its warnings, and the last reload refused since (nil
// once a later one is accepted).
func (a *App) Running() server.ConfigStatus {
	cfg := a.Config()
	cs := server.ConfigStatus{File: a.configFile(), Loaded: *a.loaded.Load(), Warnings: cfg.Warnings(),
		Instance: a.owner, Leases: a.heldLeases(context.Background())}
	if r := a.rejected.Load(); r != nil {
		rr := *r
		cs.Rejected = &rr
	}
	return cs
}

// configFile names the running config's file for staff.
func (a *App) configFile() string {
	if a.d.ConfigFile != "" {
		return a.d.ConfigFile
	}
	if a.d.Watch != "" {
		return a.d.Watch
	}
	return "the running config"
}

// problemText is every problem of a config error, one a line.
func problemText(err error) string {
	probs := config.Problems(err)
	if len(probs) == 0 {
		return err.Error()
	}
	lines := make([]string, len(probs))
	for i, p := range probs {
		lines[i] = p.Error()
	}
	return strings.Join(slices.Compact(lines), "\n")
}

// adminAPI adapts the App to the server's /admin routes.
type adminAPI struct{ a *App }

func (x adminAPI) Poll(ctx context.Context, ids []string) (any, error) { return x.a.Poll(ctx, ids) }
func (x adminAPI) PollSource(ctx context.Context, id string) (any, error) {
	res, err := x.a.Poll(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}
func (x adminAPI) Preview(ctx context.Context, r server.PreviewRequest) (any, error) {
	return x.a.Preview(ctx, r.Config, r.File, r.Channel, r.Compare)
}
func (x adminAPI) Explain(ctx context.Context, item string) (any, error) {
	return x.a.Explain(ctx, item)
}
