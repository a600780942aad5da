package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestPagesAreValidHTML renders every page type and checks it with
// html-validate (npm; .ci/run installs it) under its recommended rules,
// which cover HTML5 validity and the accessibility basics (labels,
// landmarks' names, headings in order).
func TestPagesAreValidHTML(t *testing.T) {
	bin, err := exec.LookPath("html-validate")
	if err != nil {
		t.Skip("html-validate is not installed (npm install -g html-validate): skipping HTML validation")
	}
	s := newSite(t)
	s.Subscribers.Record("news", 200, newRequest("10.0.0.1:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; )"))
	dir := t.TempDir()
	var files []string
	for _, p := range []struct {
		name, method, path string
		status             int
	}{
		{"index", "GET", "/", 200},
		{"channel", "GET", "/channels/news", 200},
		{"channel-p2", "GET", "/channels/news?page=2", 200},
		{"item", "GET", "/items/" + feed.ItemRef("yonhap", "k01"), 200},
		{"item-media", "GET", "/items/" + feed.ItemRef("yonhap", "k00"), 200}, // authors, attachments and players
		{"item-merged", "GET", "/items/" + feed.ItemRef("keia", "e1"), 200},
		{"search", "GET", "/search?q=%EB%89%B4%EC%8A%A4&channel=news", 200},
		{"search-none", "GET", "/search?q=zzzz", 200},
		{"search-form", "GET", "/search", 200},
		{"status", "GET", "/status", 200},
		{"subscribers", "GET", "/status/subscribers", 200},
		{"error-404", "GET", "/nope", 404},
		{"error-400", "GET", "/channels/news?page=0", 400},
		{"error-405", "POST", "/channels/news", 405},
	} {
		resp, body := do(t, s, p.method, p.path)
		if resp.StatusCode != p.status {
			t.Fatalf("%s %s: %d, want %d", p.method, p.path, resp.StatusCode, p.status)
		}
		f := filepath.Join(dir, p.name+".html")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// The error pages that need the site changed: 410 (a hide), 500 (the
	// store fails), 503 (no search index).
	save := func(name, body string) {
		f := filepath.Join(dir, name+".html")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	gone := feed.ItemRef("yonhap", "k03")
	it, err := s.db.Item(context.Background(), "yonhap", "k03")
	if err != nil {
		t.Fatal(err)
	}
	hidden := []feed.Channel{{ID: "news", Title: "Korea News", Sources: []string{"yonhap", "keia"}, Limit: 30, Curation: feed.Curation{Hide: []string{it.Link}}}}
	if err := s.members.Configure(context.Background(), hidden, []feed.Source{{ID: "yonhap", Title: "Yonhap"}, {ID: "keia", Title: "KEI"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, path string
		status     int
		before     func()
	}{
		{"error-410", "/items/" + gone, 410, func() {}},
		{"error-500", "/items/" + gone, 500, func() { s.Items = failingItems{} }},
		{"error-503", "/search?q=x", 503, func() { s.Search = nil }},
	} {
		p.before()
		resp, body := do(t, s, "GET", p.path)
		if resp.StatusCode != p.status {
			t.Fatalf("%s: %d, want %d", p.path, resp.StatusCode, p.status)
		}
		save(p.name, body)
	}
	config := filepath.Join(dir, "htmlvalidate.json")
	// wcag/h37 (img without alt) is off: item HTML is the publisher's,
	// and an image it gave no alt text cannot be given one here.
	if err := os.WriteFile(config, []byte(`{"extends": ["html-validate:recommended"], "rules": {"wcag/h37": "off"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append([]string{"--config", config, "--formatter", "text"}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("html-validate: %v\n%s", err, strings.ReplaceAll(string(out), dir+"/", ""))
	}
}
