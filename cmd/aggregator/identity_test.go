package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// TestServeReloadsSite: the site: keys apply on reload, to the pages and to
// the feeds at once (they are only rendering).
func TestServeReloadsSite(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	config := func(site string) string {
		return fmt.Sprintf(reloadHead, filepath.Join(dir, "data", "aggregator.db")) + site + fmt.Sprintf(`sources:
  - { id: kei-peninsula, url: %q, title: "The Peninsula (KEI)", tags: [think-tank] }
channels:
  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }
`, o.URL+"/peninsula.rss")
	}
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(config("")), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stop := startServe(t, "-config", path)
	defer stop()
	waitForItems(t, base, "the-peninsula", 2)
	_, page := get(t, base+"/")
	if !strings.Contains(string(page), "<title>aggregator.test</title>") {
		t.Errorf("index without site: keys is not titled with the host of base_url:\n%.400s", page)
	}

	apptest.SaveLikeAnEditor(t, path, config(`site:
  title: "Korea Economic Institute of America"
  language: en-GB
  footer: '<p>Published by <a href="https://keia.org/">KEI</a>.</p>'
`))
	apptest.Eventually(t, "the new site title on the index", func() bool {
		_, page := get(t, base+"/")
		return strings.Contains(string(page), "<title>Korea Economic Institute of America</title>")
	})
	_, page = get(t, base+"/channels/the-peninsula")
	for _, want := range []string{"<title>The Peninsula · Korea Economic Institute of America</title>", `<html lang="en-GB">`,
		`<p>Published by <a href="https://keia.org/" rel="nofollow">KEI</a>.</p>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("channel page after the reload lacks %s", want)
		}
	}
	_, atom := get(t, base+"/feeds/the-peninsula.rss")
	if !strings.Contains(string(atom), "<dc:publisher>Korea Economic Institute of America</dc:publisher>") {
		t.Errorf("RSS after the reload does not name the site:\n%.600s", atom)
	}
}
