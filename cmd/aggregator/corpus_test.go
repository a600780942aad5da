package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store"
)

// corpusDir returns $AGGREGATOR_CORPUS, or skips the test when it is unset.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AGGREGATOR_CORPUS")
	if dir == "" {
		t.Skip("AGGREGATOR_CORPUS is unset: set it to the absolute path of ../shared/corpus to run the corpus tests")
	}
	return dir
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// TestCorpusEndToEnd serves every file of corpus/real from a local origin,
// polls each as a source, and checks the whole path: no panic, a recorded
// reason for every rejected file, as many stored items as gofeed finds
// distinct identities, and published channels that independent checkers
// accept.
func TestCorpusEndToEnd(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "real")
	origin := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer origin.Close()

	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Fetch.AllowPrivateNetworks = true
	cfg.Fetch.HostGap = 0 // one local origin serves every file
	cfg.Server.BaseURL = "http://aggregator.test"
	groups := map[string][]string{}
	fileOf := map[string]string{}
	for i, f := range files {
		id := fmt.Sprintf("%03d-%s", i, strings.Trim(nonID.ReplaceAllString(strings.ToLower(f), "-"), "-"))
		if len(id) > 60 {
			id = id[:60]
		}
		fileOf[id] = f
		cfg.Sources = append(cfg.Sources, feed.Source{ID: id, URL: origin.URL + "/" + f, Interval: cfg.Fetch.Interval})
		group := strings.SplitN(f, "/", 2)[0]
		groups[group] = append(groups[group], id)
	}
	for _, g := range sortedKeys(groups) {
		cfg.Channels = append(cfg.Channels, feed.Channel{ID: g, Title: "Corpus: " + g, Description: "Every feed under real/" + g, Sources: groups[g], Limit: 200})
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "corpus.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	results := newPoller(cfg, db, nil).PollAll(context.Background(), cfg.Sources)
	reasons := map[string]int{}
	var parsed, items int
	for _, r := range results {
		file := fileOf[r.SourceID]
		if r.Err != nil {
			reason := r.Err.Error()
			reason = strings.ReplaceAll(reason, origin.URL, "")
			reasons[reason]++
			t.Logf("rejected %s: %v", file, reason)
			continue
		}
		parsed++
		items += r.Counts.New
		// The stored count matches the distinct identities gofeed sees.
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		gf, err := gofeed.NewParser().Parse(bytes.NewReader(raw))
		if err != nil {
			continue // gofeed alone fails where our charset handling succeeds
		}
		distinct := map[string]bool{}
		for _, it := range gf.Items {
			distinct[feed.Identity(it.GUID, it.Link, it.Title, it.Content)] = true
		}
		n, err := db.SourceItemCount(r.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(distinct) {
			t.Errorf("%s: stored %d items, gofeed finds %d distinct identities", file, n, len(distinct))
		}
	}
	t.Logf("corpus/real: %d files, %d parsed (%d items), %d rejected", len(files), parsed, items, len(files)-parsed)
	for _, reason := range sortedKeys(reasons) {
		t.Logf("  %d × %s", reasons[reason], reason)
	}
	if parsed == 0 {
		t.Fatal("no corpus file parsed")
	}

	cache := publish.NewCache(db, cfg.Server.BaseURL)
	if err := cache.Configure(cfg.Channels, cfg.Sources); err != nil {
		t.Fatal(err)
	}
	checkFeed := filepath.Join(filepath.Dir(corpusDir(t)), "tools", "check-feed")
	if _, err := exec.LookPath("jing"); err != nil {
		t.Skip("jing is not installed (apt-get install -y jing python3-feedparser python3-jsonschema): not checking the published feeds")
	}
	out := t.TempDir()
	var paths []string
	for _, snap := range cache.Channels() {
		for _, f := range publish.Formats {
			p := filepath.Join(out, snap.Channel.ID+"."+string(f))
			if err := os.WriteFile(p, snap.Docs[f].Body, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	cmd := exec.Command(checkFeed, paths...)
	report, err := cmd.CombinedOutput()
	t.Logf("check-feed:\n%s", report)
	if err != nil {
		t.Errorf("check-feed failed: %v", err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
