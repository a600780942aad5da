package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
)

// corpusHosts is how many loopback addresses serve the corpus: the poller
// never has two requests in flight to one host, so one host would poll the
// thousands of files one after another.
const corpusHosts = 8

// memStore is an in-memory fetch.Store for the corpus poll: it keeps the
// distinct item keys of each source and its state.
type memStore struct {
	mu     sync.Mutex
	states map[string]feed.SourceState
	keys   map[string]map[string]bool
}

func (s *memStore) State(_ context.Context, id string) (feed.SourceState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[id]
	if !ok {
		return st, feed.Errorf(feed.ENOTFOUND, "source %q not polled", id)
	}
	return st, nil
}

func (s *memStore) SavePoll(_ context.Context, id string, items []feed.Item, st feed.SourceState) (feed.PollCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.keys[id]
	if keys == nil {
		keys = map[string]bool{}
		s.keys[id] = keys
	}
	var c feed.PollCounts
	for _, it := range items {
		if !keys[it.Key] {
			c.New++
		}
		keys[it.Key] = true
	}
	st.Items = len(keys)
	s.states[id] = st
	return c, nil
}

func (s *memStore) SaveState(_ context.Context, st feed.SourceState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[st.SourceID] = st
	return nil
}

func (s *memStore) MarkParsing(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.states[id]
	st.SourceID, st.Parsing = id, at
	s.states[id] = st
	return nil
}

var (
	pollPrefix = regexp.MustCompile(`^poll [^ ]+: `)
	urlPrefix  = regexp.MustCompile(`^(parse|fetch) https?://[^ ]+: `)
)

// corpusReason groups a recorded error for the summary: the source and URL
// are dropped, figures folded, and the feed links an HTML page names left out.
func corpusReason(s string) string {
	s = urlPrefix.ReplaceAllString(pollPrefix.ReplaceAllString(s, ""), "")
	if strings.HasPrefix(s, "not a feed: HTML page (it links to feeds:") {
		s = "not a feed: HTML page (it links to feeds: …)"
	}
	s = digits.ReplaceAllString(s, "N")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

var (
	digits = regexp.MustCompile(`[0-9]+`)
	tags   = regexp.MustCompile(`<[^>]*>`)
)

// gofeedCount is how many distinct items plain gofeed finds in body, or -1
// when it fails (or panics) on it. It counts as the parser does: an item
// with no title, link, text or enclosure says nothing and is not counted,
// and the text is the content, else the description.
func gofeedCount(body []byte) (n int) {
	defer func() {
		if recover() != nil {
			n = -1
		}
	}()
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return -1
	}
	distinct := map[string]bool{}
	for _, it := range f.Items {
		// Titles are kept as plain text: one that is only markup is none.
		title, link := strings.TrimSpace(tags.ReplaceAllString(it.Title, "")), strings.TrimSpace(it.Link)
		body := strings.TrimSpace(it.Content)
		if body == "" {
			body = strings.TrimSpace(it.Description)
		}
		if title == "" && link == "" && body == "" && len(it.Enclosures) == 0 {
			continue
		}
		distinct[feed.Identity(it.GUID, link, title, body)] = true
	}
	return len(distinct)
}

// TestCorpusPolled serves every file of the corpus (real feeds, ill-formed
// and encoding cases, other parsers' fixtures, OPML) from local origins and
// polls each as a source through the real client, parser and poller: no
// panic, no hang, a recorded reason for every failure, and where plain
// gofeed finds items we store as many. It logs a summary by reason.
func TestCorpusPolled(t *testing.T) {
	dir := apptest.CorpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files = slicesWithout(files, "MANIFEST.tsv")

	var origins []string
	for i := range corpusHosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			if i == 0 {
				t.Fatal(err)
			}
			break // fewer hosts on systems without the whole of 127/8
		}
		srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(dir)))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		origins = append(origins, srv.URL)
	}

	cfg := config.Default()
	cfg.Fetch.AllowPrivateNetworks = true
	cfg.Fetch.HostGap = 0
	cfg.Fetch.Timeout = 20 * time.Second
	fileOf := map[string]string{}
	for i, f := range files {
		id := fmt.Sprintf("c%04d", i)
		fileOf[id] = f
		segs := strings.Split(f, "/")
		for j := range segs {
			segs[j] = url.PathEscape(segs[j])
		}
		u := origins[i%len(origins)] + "/" + strings.Join(segs, "/")
		cfg.Sources = append(cfg.Sources, feed.Source{ID: id, URL: u, Interval: time.Hour})
	}
	store := &memStore{states: map[string]feed.SourceState{}, keys: map[string]map[string]bool{}}
	began := time.Now()
	results := app.NewPoller(cfg, app.NewClient(cfg, nil), store, nil, nil).PollAll(context.Background(), cfg.Sources)
	took := time.Since(began)

	type tally struct{ parsed, items, failed int }
	byGroup := map[string]*tally{}
	reasons := map[string]int{}
	mismatches := 0
	for _, r := range results {
		file := fileOf[r.SourceID]
		group := strings.Join(strings.SplitN(file, "/", 3)[:2], "/")
		g := byGroup[group]
		if g == nil {
			g = &tally{}
			byGroup[group] = g
		}
		st, _ := store.State(context.Background(), r.SourceID)
		if r.Err != nil {
			g.failed++
			if strings.Contains(r.Err.Error(), "panic") {
				t.Errorf("%s: %v", file, r.Err)
			}
			if st.LastError == "" || st.Errors != 1 {
				t.Errorf("%s: failed (%v) but recorded LastError=%q Errors=%d", file, r.Err, st.LastError, st.Errors)
			}
			reasons[corpusReason(st.LastError)]++
			continue
		}
		g.parsed++
		g.items += st.Items
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		if want := gofeedCount(body); want > 0 && st.Items != want {
			mismatches++
			t.Errorf("%s: stored %d items, gofeed finds %d distinct", file, st.Items, want)
		}
	}

	var parsed, items, failed int
	t.Logf("corpus polled: %d files from %d local hosts in %v", len(files), len(origins), took.Round(time.Millisecond))
	t.Logf("%-28s %7s %7s %7s", "group", "parsed", "items", "failed")
	for _, name := range sortedKeys(byGroup) {
		g := byGroup[name]
		parsed, items, failed = parsed+g.parsed, items+g.items, failed+g.failed
		t.Logf("%-28s %7d %7d %7d", name, g.parsed, g.items, g.failed)
	}
	t.Logf("%-28s %7d %7d %7d", "total", parsed, items, failed)
	t.Logf("failures by recorded reason:")
	keys := sortedKeys(reasons)
	sort.SliceStable(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	for _, k := range keys {
		t.Logf("%6d  %s", reasons[k], k)
	}
	if parsed == 0 {
		t.Fatal("nothing parsed")
	}
	if mismatches > 0 {
		t.Logf("%d files where the stored item count differs from gofeed's", mismatches)
	}
}

func slicesWithout(s []string, drop string) []string {
	out := s[:0]
	for _, v := range s {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}
