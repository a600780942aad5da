package server

import (
	"fmt"
	"strings"
	"testing"
)

func TestGzipAccepted(t *testing.T) {
	for _, tc := range []struct {
		header []string // Accept-Encoding field lines; nil: absent
		want   bool
	}{
		{nil, false}, // no field: identity, which every client reads
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br", "gzip"}, true}, // two field lines are one list
		{[]string{"deflate, br"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0, gzip"}, true},  // the audit's case: gzip is named, so * does not apply to it
		{[]string{"gzip;q=0, *"}, false}, // gzip named and refused; * covers only what is not named
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;Q=0.001, identity;q=0"}, true},
		{[]string{"gzip;q=1.0"}, true},
		{[]string{"gzip;q=0.5, identity"}, false}, // identity (q=1) preferred
		{[]string{"gzip, identity;q=0.5"}, true},
		{[]string{"gzip;q=0.5, identity;q=0.5"}, true}, // a tie goes to the smaller
		{[]string{"identity;q=0, gzip;q=0.1"}, true},
		{[]string{"*;q=0.1, identity"}, false},
		{[]string{"*;q=0"}, false},               // nothing acceptable: identity, as RFC 9110 §12.5.3 says
		{[]string{"identity;q=0"}, false},        // gzip is not named either
		{[]string{"gzip;q=2"}, false},            // an invalid qvalue: the element is ignored
		{[]string{"gzip;q=abc, deflate"}, false}, // idem
		{[]string{"gzip;level=9"}, true},         // unknown parameters are ignored
		{[]string{" , ,gzip ,"}, true},           // empty list elements
		{[]string{"compress, x-unknown;q=0.9"}, false},
	} {
		t.Run(fmt.Sprintf("%q", tc.header), func(t *testing.T) {
			if got := gzipAccepted(tc.header); got != tc.want {
				t.Errorf("gzipAccepted(%q) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

// TestRangeAtMostOneRange: a Range of many parts is answered 200 with the
// whole document, never a multipart reply longer than the document; one
// range is honoured.
func TestRangeAtMostOneRange(t *testing.T) {
	s := newGzipServer(t)
	const doc = "document in atom"
	var parts []string
	for i := range len(doc) {
		parts = append(parts, fmt.Sprintf("%d-%d", i, i))
	}
	for name, tc := range map[string]struct {
		rng    string
		status int
		body   string
	}{
		"one byte per part": {"bytes=" + strings.Join(parts, ","), 200, doc},
		"two overlapping":   {"bytes=0-10,5-15", 200, doc},
		"two disjoint":      {"bytes=0-1,5-6", 200, doc},
		"one range":         {"bytes=0-7", 206, "document"},
		"suffix":            {"bytes=-4", 206, "atom"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := do(t, s, "GET", "/feeds/news.atom", "Range", tc.rng)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("Range %.40s: %d, %d bytes %.60q; want %d %q", tc.rng, resp.StatusCode, len(body), body, tc.status, tc.body)
			}
			if len(body) > len(doc) {
				t.Errorf("reply of %d bytes for a document of %d", len(body), len(doc))
			}
		})
	}
}
