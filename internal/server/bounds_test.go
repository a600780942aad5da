package server

import (
	"net/url"
	"strings"
	"testing"
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
		{"q=" + url.QueryEscape(strings.Repeat("the ", 15000)), 400, "the search is too long"},
	} {
		resp, body := do(t, s, "GET", "/search?"+tc.query)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("/search?%.50s: %d %.80q, want %d %q", tc.query, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}
