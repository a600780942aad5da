package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/search"
)

// TestSearchBounds: dates the index cannot compare are open bounds (200,
// not the 500 they gave), and a query over the search package's caps is a
// 400 that says why.
func TestSearchBounds(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"from=0002-01-01&format=json", 200, `{"total":46,`},
		{"from=1000-01-01&to=9999-12-31&format=json", 200, `{"total":46,`},
		{"from=9999-01-01&format=json", 200, `{"total":0,`},
		{"to=1600-01-01&format=json", 200, `{"total":0,`},
		{"q=" + url.QueryEscape(strings.Repeat("the ", 15000)), 400, "The search is too long"},
		{"q=" + url.QueryEscape(strings.Repeat("the ", 15000)) + "&format=json", 400, "the search is too long"},
	} {
		resp, body := do(t, s, "GET", "/search?"+tc.query)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("/search?%.50s: %d %.80q, want %d %q", tc.query, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

// TestStatusShowsIndexFailure: a failing search indexer is on /status,
// in HTML and JSON, with how far behind the store it is; a healthy one is
// not shown in HTML.
func TestStatusShowsIndexFailure(t *testing.T) {
	state := search.IndexerState{LastError: "index batch: write 0003.zap: no space left on device", Failing: 2, Failures: 2,
		NextTry: time.Date(2026, 12, 1, 10, 0, 4, 0, time.UTC), Behind: 120}
	s := New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{Extras: Extras{Indexing: func() search.IndexerState { return state }}})
	_, body := do(t, s, "GET", "/status")
	mustContain(t, "status page", body, `id="search-index"`, "no space left on device", "<dd>2</dd>", `datetime="2026-12-01T10:00:04Z"`)
	_, body = do(t, s, "GET", "/status?format=json")
	mustContain(t, "status JSON", body, `"search_index": {`, `"last_error": "index batch: write 0003.zap: no space left on device"`, `"consecutive_errors": 2`, `"behind": 120`)
	state = search.IndexerState{LastSuccess: time.Now()}
	if _, body = do(t, s, "GET", "/status"); strings.Contains(body, `id="search-index"`) {
		t.Error("a healthy index is shown as failing")
	}
}
