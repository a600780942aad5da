package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// TestCrashSIGKILL kills "aggregator serve" with SIGKILL again and again
// while its sources keep growing: at random moments, while an origin is
// half-way through an answer, and right after a poll was committed. After
// every kill the database must open and pass bbolt's Check, every item a
// logged poll reported stored must be there, nothing may be there that the
// origin never finished sending, and the restarted server must serve valid
// feeds without duplicates. AGGREGATOR_LONG=1 kills 60 times instead of 8.
// The moments come from a seed the test logs; AGGREGATOR_CRASH_SEED=N
// replays a run.
//
// The store prunes nothing yet, so there is no "mid-prune" moment to aim
// at; once retention lands, its pass runs in the same process and the
// random kills reach it too.
func TestCrashSIGKILL(t *testing.T) {
	t.Parallel()
	kills := 8
	if long() {
		kills = 60
	}
	const sources = 12
	o := newGrowingOrigin(t, 3, 240, 1500)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db", "aggregator.db")
	cfg := writeGrowingConfig(t, dir, o, sources, dbPath, "", "")
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("AGGREGATOR_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("AGGREGATOR_CRASH_SEED=%q: %v", v, err)
		}
	}
	t.Logf("random kill moments from seed %d (replay with AGGREGATOR_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 8))

	var logs strings.Builder
	modes := map[string]int{}
	verified := 0
	for i := range kills {
		p := serve(t, cfg)
		mode := []string{"random", "mid-answer", "after-commit"}[i%3]
		modes[mode]++
		switch mode {
		case "random":
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		case "mid-answer":
			held, release := o.holdNext()
			select {
			case <-held:
			case <-time.After(20 * time.Second):
				t.Fatalf("kill %d: no poll reached the origin\n%s", i, p.stderr)
			}
			defer release()
		case "after-commit":
			before := len(polls(p.stderr.String()))
			deadline := time.Now().Add(20 * time.Second)
			for len(polls(p.stderr.String())) == before {
				if time.Now().After(deadline) {
					t.Fatalf("kill %d: no poll logged\n%s", i, p.stderr)
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		p.signal(t, syscall.SIGKILL)
		if code := p.wait(t, 10*time.Second); code != -1 {
			t.Fatalf("kill %d: exit code %d, want death by signal\n%s", i, code, p.stderr)
		}
		logs.WriteString(p.stderr.String())
		verified += verifyStore(t, fmt.Sprintf("after kill %d (%s)", i, mode), dbPath, logs.String(), o, sources)
	}
	t.Logf("%d kills (%v), %d stored items verified in all, %d polls logged", kills, modes, verified, len(polls(logs.String())))

	// The restarted server serves every format, valid and without
	// duplicates, and a SIGTERM ends it cleanly.
	// The origin stops growing so that all formats show the same items once
	// every source has been polled again.
	o.freeze()
	p := serve(t, cfg)
	waitPolls(t, p, 2*sources)
	checkFeeds(t, p.Base, "all")
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0\n%s", code, p.stderr)
	}
}

// TestSIGTERMDrain sends SIGTERM while a poll is half-way through reading
// its answer: the process must let that poll finish and commit, then exit 0
// within the shutdown timeout.
func TestSIGTERMDrain(t *testing.T) {
	t.Parallel()
	o := newGrowingOrigin(t, 5, 500, 200)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "aggregator.db")
	cfg := writeGrowingConfig(t, dir, o, 3, dbPath, "", "")
	p := serve(t, cfg)
	waitPolls(t, p, 3)

	held, release := o.holdNext()
	var src string
	select {
	case src = <-held:
	case <-time.After(20 * time.Second):
		t.Fatalf("no poll reached the origin\n%s", p.stderr)
	}
	p.signal(t, syscall.SIGTERM)
	// Give the signal time to arrive, so that the drain is what waits.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown logged\n%s", p.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, p.stderr)
	}
	_, after, _ := strings.Cut(p.stderr.String(), "shutting down")
	found := false
	for _, pl := range polls(after) {
		if pl.source == src && pl.status == 200 {
			found = true
		}
	}
	if !found {
		t.Errorf("the poll of %s in flight at SIGTERM was not logged after the shutdown began:\n%s", src, p.stderr)
	}
	db, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o.mu.Lock()
	want := o.served[src]
	o.mu.Unlock()
	if n, err := db.SourceItemCount(context.Background(), src); err != nil || n != want {
		t.Errorf("%s: %d items stored (%v), want %d: the answer of the drained poll", src, n, err, want)
	}
}

// waitPolls waits until p has logged n more completed polls.
func waitPolls(t *testing.T, p *proc, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.stderr.String(), " msg=poll ") < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d polls logged in 30s\n%s", n, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifyStore opens the database of a dead server and checks it against the
// logs of every run so far and what the origin sent. It returns the number
// of items checked.
func verifyStore(t *testing.T, when, dbPath, logs string, o *growingOrigin, sources int) int {
	t.Helper()
	db, err := bolt.Open(dbPath, bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("%s: open: %v", when, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	logged := map[string]int{}
	for _, pl := range polls(logs) {
		logged[pl.source] += pl.new
	}
	o.mu.Lock()
	served := maps(o.served)
	o.mu.Unlock()
	total := 0
	for i := 1; i <= sources; i++ {
		src := fmt.Sprintf("s%d", i)
		items, err := db.ItemsAfter(context.Background(), []string{src}, nil, 1_000_000)
		if err != nil {
			t.Fatalf("%s: items of %s: %v", when, src, err)
		}
		seen := map[int]bool{}
		for _, it := range items {
			n, err := strconv.Atoi(strings.TrimPrefix(it.Key, "id:"+src+"-"))
			if err != nil || seen[n] {
				t.Fatalf("%s: %s: unexpected or repeated key %q", when, src, it.Key)
			}
			seen[n] = true
		}
		k := len(items)
		for n := 1; n <= k; n++ {
			if !seen[n] {
				t.Fatalf("%s: %s has %d items but not item %d: a poll was half stored", when, src, k, n)
			}
		}
		if k < logged[src] {
			t.Fatalf("%s: %s has %d items, but the log reported %d stored", when, src, k, logged[src])
		}
		if k > served[src] {
			t.Fatalf("%s: %s has %d items, but the origin finished sending only %d", when, src, k, served[src])
		}
		if c, err := db.SourceItemCount(context.Background(), src); err != nil || c != k {
			t.Fatalf("%s: %s: count %d (%v), but %d items", when, src, c, err, k)
		}
		total += k
	}
	return total
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkFeeds reads a channel in every format: each must parse (gofeed), list
// each entry once, and agree on the count; when check-feed and its tools
// are installed, it must accept them too.
func checkFeeds(t *testing.T, base, channel string) {
	t.Helper()
	counts := map[string]int{}
	dir := t.TempDir()
	var files []string
	for _, ext := range []string{"atom", "rss", "json"} {
		status, body := get(t, base+"/feeds/"+channel+"."+ext)
		if status != 200 {
			t.Fatalf("%s: status %d", ext, status)
		}
		f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s does not parse: %v", ext, err)
		}
		ids := map[string]bool{}
		for _, it := range f.Items {
			if ids[it.GUID] {
				t.Errorf("%s lists %q twice", ext, it.GUID)
			}
			ids[it.GUID] = true
		}
		counts[ext] = len(f.Items)
		files = append(files, writeFile(t, dir, channel+"."+ext, string(body)))
	}
	if counts["atom"] != counts["rss"] || counts["rss"] != counts["json"] || counts["json"] == 0 {
		t.Errorf("entries per format %v, want the same non-zero count", counts)
	}
	var doc struct{ Items []json.RawMessage }
	if _, body := get(t, base+"/feeds/"+channel+".json"); json.Unmarshal(body, &doc) != nil {
		t.Error("JSON Feed is not JSON")
	}
	if status, _ := get(t, base+"/channels/"+channel); status != 200 {
		t.Errorf("channel page: status %d", status)
	}
	checkFeedTool(t, files...)
}

// checkFeedTool runs ../shared/tools/check-feed on files when the corpus
// directory names the shared tree and jing is installed.
func checkFeedTool(t *testing.T, files ...string) {
	t.Helper()
	corpus := os.Getenv("AGGREGATOR_CORPUS")
	if corpus == "" {
		t.Log("AGGREGATOR_CORPUS is unset: not running check-feed")
		return
	}
	if _, err := exec.LookPath("jing"); err != nil {
		t.Log("jing is not installed: not running check-feed")
		return
	}
	tool := filepath.Join(filepath.Dir(corpus), "tools", "check-feed")
	out, err := exec.Command(tool, files...).CombinedOutput()
	if err != nil {
		t.Errorf("check-feed: %v\n%s", err, out)
	}
}
