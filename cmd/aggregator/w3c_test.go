package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/publish"
)

// corpusChannels polls corpus/real (pollCorpus) and publishes it.
func corpusChannels(t *testing.T) (config.Config, published) {
	t.Helper()
	r := pollCorpus(t)
	return r.cfg, r.cache(t)
}

// TestCorpusW3C runs the W3C Feed Validator at level AA (errors and
// warnings) on the Atom and RSS documents of every corpus channel: each
// must report no event at all.
func TestCorpusW3C(t *testing.T) {
	tool := apptest.W3CValidator(t)
	cfg, cache := corpusChannels(t)
	out := t.TempDir()
	if d := os.Getenv("W3C_KEEP"); d != "" {
		out = d // keep the documents for a look
	}
	for _, snap := range cache.Channels() {
		for _, f := range []publish.Format{publish.Atom, publish.RSS} {
			// The subscription document, the first (full) archive page and
			// the open one.
			docs := map[string]*publish.Document{"": cache.Doc(t, snap.Channel.ID, f)}
			for _, page := range []int{1, cache.Pages(t, snap.Channel.ID)} {
				d, err := cache.Archive(snap.Channel.ID, page, f)
				if err != nil {
					t.Fatal(err)
				}
				docs[fmt.Sprintf("/archive/%d", page)] = d
			}
			for _, path := range sortedKeys(docs) {
				name := snap.Channel.ID + path + "." + string(f)
				p := filepath.Join(out, strings.ReplaceAll(name, "/", "_"))
				if err := os.WriteFile(p, docs[path].Body, 0o644); err != nil {
					t.Fatal(err)
				}
				base := cfg.Server.BaseURL + "/feeds/" + name
				report, err := exec.Command(tool, p, "--base", base, "--type", f.ContentType()).CombinedOutput()
				t.Logf("%s: %s", name, strings.TrimSpace(string(report)))
				if err != nil {
					t.Errorf("%s: W3C validator: %v", name, err)
				}
			}
		}
	}
}

// corpusFiles lists the files under dir, slash-separated and relative.
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// newFileOrigin serves dir on loopback and returns its URL.
func newFileOrigin(t *testing.T, dir string) string {
	t.Helper()
	o := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(o.Close)
	return o.URL
}

// TestCorpusArchivesCheckFeed runs check-feed (jing, feedparser, the JSON
// Feed schema) on the first and the open archive page of every corpus
// channel in every format; TestCorpusEndToEnd checks the subscription
// documents.
func TestCorpusArchivesCheckFeed(t *testing.T) {
	apptest.CorpusDir(t)
	if _, err := exec.LookPath("jing"); err != nil {
		t.Skip("jing is not installed (apt-get install -y jing python3-feedparser python3-jsonschema): not checking")
	}
	_, cache := corpusChannels(t)
	out := t.TempDir()
	var paths []string
	for _, snap := range cache.Channels() {
		pages := []int{1}
		if n := cache.Pages(t, snap.Channel.ID); n > 1 {
			pages = append(pages, n)
		}
		for _, f := range publish.Formats {
			for _, page := range pages {
				d, err := cache.Archive(snap.Channel.ID, page, f)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(out, fmt.Sprintf("%s_archive_%d.%s", snap.Channel.ID, page, f))
				if err := os.WriteFile(p, d.Body, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
		}
	}
	report, err := exec.Command(filepath.Join(filepath.Dir(apptest.CorpusDir(t)), "tools", "check-feed"), paths...).CombinedOutput()
	t.Logf("check-feed:\n%s", report)
	if err != nil {
		t.Errorf("check-feed failed: %v", err)
	}
}
