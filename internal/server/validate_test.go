package server

import (
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
	pages := map[string]string{
		"index":       "/",
		"channel":     "/channels/news",
		"channel-p2":  "/channels/news?page=2",
		"item":        "/items/" + feed.ItemRef("yonhap", "k01"),
		"item-media":  "/items/" + feed.ItemRef("yonhap", "k00"),
		"item-merged": "/items/" + feed.ItemRef("keia", "e1"),
		"search":      "/search?q=%EB%89%B4%EC%8A%A4&channel=news",
		"search-none": "/search?q=zzzz",
		"search-form": "/search",
		"subscribers": "/status/subscribers",
	}
	var files []string
	for name, path := range pages {
		resp, body := do(t, s, "GET", path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		f := filepath.Join(dir, name+".html")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
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
