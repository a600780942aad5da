package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

type fakeStates struct {
	states []feed.SourceState
	err    error
}

func (f fakeStates) States(context.Context) ([]feed.SourceState, error) { return f.states, f.err }

func (f fakeStates) State(_ context.Context, id string) (feed.SourceState, error) {
	for _, st := range f.states {
		if st.SourceID == id {
			return st, f.err
		}
	}
	return feed.SourceState{}, feed.Errorf(feed.ENOTFOUND, "no state")
}

// sourceList is a fixed SourceList.
type sourceList []feed.Source

func (l sourceList) Sources() []feed.Source { return l }

func statusServer(t *testing.T, states States) *Server {
	t.Helper()
	sources := []feed.Source{
		{ID: "kei", URL: "https://keia.org/feed/", Title: "KEI"},
		{ID: "moved", URL: "https://old.example.org/rss"},
		{ID: "gone", URL: "https://gone.example.org/rss"},
		{ID: "fresh", URL: "https://fresh.example.org/rss", Disabled: true},
		{ID: "home", URL: "https://www.example.kr/"},
	}
	return New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{States: states, Sources: sourceList(sources)})
}

func sampleStates() []feed.SourceState {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return []feed.SourceState{
		{SourceID: "kei", URL: "https://keia.org/feed/", ConfiguredURL: "https://keia.org/feed/", ETag: `"abc"`,
			LastModified: "Sun, 01 Mar 2026 08:00:00 GMT", LastStatus: 304, LastPoll: at, LastSuccess: at,
			NextPoll: at.Add(time.Hour), Items: 12},
		{SourceID: "moved", URL: "https://new.example.org/rss", ConfiguredURL: "https://old.example.org/rss",
			AdoptedURL: "https://new.example.org/rss", LastStatus: 503, LastPoll: at, LastSuccess: at.Add(-time.Hour),
			LastError: "fetch https://new.example.org/rss: unexpected HTTP status 503 Service Unavailable <b>", Errors: 2,
			NextPoll: at.Add(2 * time.Hour), Items: 3},
		{SourceID: "gone", URL: "https://gone.example.org/rss", ConfiguredURL: "https://gone.example.org/rss",
			Retired: true, LastStatus: 410, LastPoll: at, LastError: "unexpected HTTP status 410 Gone", Errors: 1},
		{SourceID: "removed-from-config", URL: "https://x.example/"},
		{SourceID: "home", URL: "https://www.example.kr/rss", ConfiguredURL: "https://www.example.kr/",
			DiscoveredURL: "https://www.example.kr/rss", LastStatus: 200, LastPoll: at, LastSuccess: at, Items: 5},
	}
}

func TestStatusJSON(t *testing.T) {
	resp, body := do(t, statusServer(t, fakeStates{states: sampleStates()}), "GET", "/status?format=json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got struct{ Sources []map[string]any }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sources) != 5 {
		t.Fatalf("%d sources, want the 5 configured:\n%s", len(got.Sources), body)
	}
	// The failing source first, then the others in the config's order.
	var order []string
	for _, src := range got.Sources {
		order = append(order, src["id"].(string))
	}
	if got, want := strings.Join(order, " "), "moved kei gone fresh home"; got != want {
		t.Errorf("sources in order %q, want %q (failing first)", got, want)
	}
	moved, kei, gone, fresh, home := got.Sources[0], got.Sources[1], got.Sources[2], got.Sources[3], got.Sources[4]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"kei.id", kei["id"], "kei"},
		{"kei.last_status", kei["last_status"], 304.0},
		{"kei.etag", kei["etag"], `"abc"`},
		{"kei.last_modified", kei["last_modified"], "Sun, 01 Mar 2026 08:00:00 GMT"},
		{"kei.items", kei["items"], 12.0},
		{"kei.next_poll", kei["next_poll"], "2026-03-01T10:00:00Z"},
		{"kei.last_success", kei["last_success"], "2026-03-01T09:00:00Z"},
		{"kei.retired", kei["retired"], false},
		{"moved.configured_url", moved["configured_url"], "https://old.example.org/rss"},
		{"moved.current_url", moved["current_url"], "https://new.example.org/rss"},
		{"moved.consecutive_errors", moved["consecutive_errors"], 2.0},
		{"moved.last_error", moved["last_error"], "fetch https://new.example.org/rss: unexpected HTTP status 503 Service Unavailable <b>"},
		{"gone.retired", gone["retired"], true},
		{"gone.last_status", gone["last_status"], 410.0},
		{"fresh.polled", fresh["polled"], false},
		{"fresh.disabled", fresh["disabled"], true},
		{"home.configured_url", home["configured_url"], "https://www.example.kr/"},
		{"home.discovered_url", home["discovered_url"], "https://www.example.kr/rss"},
		{"home.current_url", home["current_url"], "https://www.example.kr/rss"},
		{"kei.discovered_url", kei["discovered_url"], nil},
	} {
		if c.got != c.want {
			t.Errorf("%s=%v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStatusHTML(t *testing.T) {
	resp, body := do(t, statusServer(t, fakeStates{states: sampleStates()}), "GET", "/status")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"5 sources, 1 failing, 1 retired",
		`id="source-kei"`, "KEI", "304", `ETag <code>&#34;abc&#34;</code>`, "Last-Modified <code>Sun, 01 Mar 2026 08:00:00 GMT</code>",
		"Items stored</dt><dd>12", `datetime="2026-03-01T10:00:00Z"`,
		"Polled URL (permanent redirect adopted)", "https://new.example.org/rss", "https://old.example.org/rss",
		"503 Service Unavailable &lt;b&gt;", "Consecutive errors</dt><dd>2",
		`<span class="flag">retired</span>`, "not polled (retired)",
		"Polled</dt><dd>not yet",
		`href="/status?format=json"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	if strings.Contains(body, "removed-from-config") {
		t.Error("status page shows a source no longer configured")
	}
	home := body[strings.Index(body, `id="source-home"`):]
	home = home[:strings.Index(home, "</article>")]
	if want := `Discovered feed (announced by the configured page)</dt><dd><a href="https://www.example.kr/rss">`; !strings.Contains(home, want) {
		t.Errorf("the home page source lacks %s:\n%s", want, home)
	}
	if strings.Contains(home, "redirect adopted") {
		t.Errorf("the discovered feed is shown as an adopted redirect:\n%s", home)
	}
}

func TestStatusErrors(t *testing.T) {
	if resp, body := do(t, statusServer(t, fakeStates{err: errors.New("bucket corrupt")}), "GET", "/status"); resp.StatusCode != 500 || strings.Contains(body, "bucket corrupt") {
		t.Errorf("store failure: %d %q, want 500 without the cause", resp.StatusCode, body)
	}
	if resp, _ := do(t, statusServer(t, nil), "GET", "/status?format=xml"); resp.StatusCode != 400 {
		t.Errorf("unknown format: %d, want 400", resp.StatusCode)
	}
	if resp, body := do(t, statusServer(t, nil), "GET", "/status"); resp.StatusCode != 200 || !strings.Contains(body, "not yet") {
		t.Errorf("no States: %d, want every source shown as not polled", resp.StatusCode)
	}
	if _, body := do(t, statusServer(t, nil), "GET", "/"); !strings.Contains(body, `href="/status"`) {
		t.Error("the footer does not link to /status")
	}
}

// TestStatusTellsTheTruth: the running config's file and load time, the
// last rejected reload with every problem, config warnings and per-source
// warnings, in JSON and HTML.
func TestStatusTellsTheTruth(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	states := sampleStates()
	states[0].Warning = `repeated GUID "https://keia.org/" on 3 items: identified by link instead`
	states[0].RedirectTarget, states[0].RedirectCount = "https://keia.org/new-feed/", 2
	srv := New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{
		States: fakeStates{states: states}, Sources: sourceList{{ID: "kei", URL: "https://keia.org/feed/"}},
		Extras: Extras{Running: func() ConfigStatus {
			return ConfigStatus{File: "/etc/aggregator/feeds.yaml", Loaded: at, Warnings: []string{"channels[0]: selects no source"},
				Rejected: &RejectedReload{At: at.Add(time.Hour), Why: "SIGHUP", Problems: []string{
					"/etc/aggregator/feeds.yaml:12: sources[1].url: must be an absolute http(s) URL", "/etc/aggregator/feeds.yaml:30: channels[0].id: repeated"}}}
		}},
	})
	_, body := do(t, srv, "GET", "/status?format=json")
	var got Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Config == nil || got.Config.File != "/etc/aggregator/feeds.yaml" || !got.Config.Loaded.Equal(at) ||
		got.Config.Rejected == nil || len(got.Config.Rejected.Problems) != 2 || len(got.Config.Warnings) != 1 {
		t.Errorf("config status %+v, want the file, load time, warning and the rejected reload's two problems", got.Config)
	}
	if len(got.Sources) != 1 || len(got.Sources[0].Warnings) != 2 {
		t.Fatalf("sources %+v, want kei with two warnings (repeated GUID, redirect pending)", got.Sources)
	}
	_, page := do(t, srv, "GET", "/status")
	for _, want := range []string{
		"/etc/aggregator/feeds.yaml", `datetime="2026-03-01T09:00:00Z"`, "reload rejected", "(SIGHUP)",
		"feeds.yaml:12: sources[1].url: must be an absolute http(s) URL", "feeds.yaml:30: channels[0].id: repeated",
		"channels[0]: selects no source", "repeated GUID", "redirect pending: 2 consecutive polls were sent permanently to https://keia.org/new-feed/",
	} {
		if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, `"`, "&#34;")) {
			t.Errorf("status page lacks %s", want)
		}
	}
}
