package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// corpusRun is corpus/real served by a local origin and polled once, each
// file as a source, into a fresh store; the sources are grouped into one
// channel per top directory.
type corpusRun struct {
	dir     string // corpus/real
	origin  string // the origin's URL
	files   []string
	fileOf  map[string]string // source id → file, relative to dir
	cfg     config.Config
	db      *bolt.DB
	results []fetch.Result
}

func pollCorpus(t *testing.T) *corpusRun {
	t.Helper()
	r := &corpusRun{dir: filepath.Join(apptest.CorpusDir(t), "real"), fileOf: map[string]string{}}
	r.origin = newFileOrigin(t, r.dir)
	r.files = corpusFiles(t, r.dir)
	cfg := config.Default()
	cfg.Fetch.AllowPrivateNetworks = true
	cfg.Fetch.HostGap = 0 // one local origin serves every file
	cfg.Server.BaseURL = "http://aggregator.test"
	groups := map[string][]string{}
	for i, f := range r.files {
		id := fmt.Sprintf("%03d-%s", i, strings.Trim(nonID.ReplaceAllString(strings.ToLower(f), "-"), "-"))
		if len(id) > 60 {
			id = id[:60]
		}
		r.fileOf[id] = f
		cfg.Sources = append(cfg.Sources, feed.Source{ID: id, URL: r.origin + "/" + f, Interval: cfg.Fetch.Interval})
		group := strings.SplitN(f, "/", 2)[0]
		groups[group] = append(groups[group], id)
	}
	for _, g := range sortedKeys(groups) {
		cfg.Channels = append(cfg.Channels, feed.Channel{ID: g, Title: "Corpus: " + g, Description: "Every feed under real/" + g, Sources: groups[g], Limit: 200})
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "corpus.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.cfg, r.db = cfg, db
	r.results = app.NewPoller(cfg, app.NewClient(cfg, nil), db, nil, nil).PollAll(context.Background(), cfg.Sources)
	return r
}

// cache publishes the run's channels.
func (r *corpusRun) cache(t *testing.T) published {
	t.Helper()
	return publishStore(t, r.db, r.cfg)
}

// published is a store's channels as serve publishes them: the membership
// index, built and caught up, and the documents rendered from it.
type published struct {
	*publish.Cache
	m *membership.Index
}

// Pages returns the number of a channel's archive pages.
func (p published) Pages(t *testing.T, id string) int {
	t.Helper()
	n, err := p.m.Pages(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Doc returns a channel's subscription document in format f.
func (p published) Doc(t *testing.T, id string, f publish.Format) *publish.Document {
	t.Helper()
	d, err := p.Document(id, f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// publishStore builds the membership indexes of cfg's channels over db
// and a cache that renders their documents; the index stops with the
// test.
func publishStore(t *testing.T, db *bolt.DB, cfg config.Config) published {
	t.Helper()
	m := membership.New(db, membership.Options{PageSize: cfg.Publish.PageSize})
	if err := m.Configure(context.Background(), cfg.Channels, cfg.Sources); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// A bound on the wait, not a figure: under load (CI runs packages in
	// parallel) 20,000 items took more than a minute to index.
	wait, stop := context.WithTimeout(ctx, 5*time.Minute)
	defer stop()
	if err := m.WaitCurrent(wait); err != nil {
		t.Fatal(err)
	}
	c := publish.NewCache(m, db, cfg.Server.BaseURL, publish.Options{PageSize: cfg.Publish.PageSize})
	if err := c.Configure(cfg.Channels, cfg.Sources); err != nil {
		t.Fatal(err)
	}
	return published{Cache: c, m: m}
}

// TestCorpusEndToEnd serves every file of corpus/real from a local origin,
// polls each as a source, and checks the whole path: no panic, a recorded
// reason for every rejected file, as many stored items as gofeed finds
// distinct identities, and published channels that independent checkers
// accept.
func TestCorpusEndToEnd(t *testing.T) {
	run := pollCorpus(t)
	dir, files, fileOf, db, results := run.dir, run.files, run.fileOf, run.db, run.results
	reasons := map[string]int{}
	var parsed, items int
	for _, r := range results {
		file := fileOf[r.SourceID]
		if r.Err != nil {
			reason := r.Err.Error()
			reason = strings.ReplaceAll(reason, run.origin, "")
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
		n, err := db.SourceItemCount(context.Background(), r.SourceID)
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

	cache := run.cache(t)
	checkFeed := apptest.CheckFeed(t)
	out := t.TempDir()
	var paths []string
	for _, snap := range cache.Channels() {
		for _, f := range publish.Formats {
			p := filepath.Join(out, snap.Channel.ID+"."+string(f))
			if err := os.WriteFile(p, cache.Doc(t, snap.Channel.ID, f).Body, 0o644); err != nil {
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
