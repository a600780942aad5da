package app

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
)

const reloadHead = `server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, contact: "ops@example.org" }
`

func TestReloadsConfig(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "aggregator.db")
	head := fmt.Sprintf(reloadHead, db)
	peninsula := fmt.Sprintf("  - { id: kei-peninsula, url: %q, title: \"The Peninsula\", tags: [think-tank] }\n", o.URL+"/peninsula.rss")
	configA := head + "sources:\n" + peninsula +
		"channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	configB := head + "sources:\n" + peninsula +
		fmt.Sprintf("  - { id: 38north, url: %q, title: \"38 North\", tags: [north-korea] }\n", o.URL+"/northkorea.atom") +
		"channels:\n  - id: the-peninsula\n    title: The Peninsula\n    sources: [kei-peninsula]\n    exclude: [경제]\n" +
		"  - { id: north-korea, title: North Korea, tags: [north-korea] }\n"
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(configA), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startApp(t, path)
	base, logs := r.base, r.logs
	apptest.WaitForItems(t, base, "the-peninsula", 2)
	if resp, _ := apptest.Get(t, base+"/feeds/north-korea.json"); resp.StatusCode != 404 {
		t.Fatalf("north-korea before reload: %d", resp.StatusCode)
	}

	// A new source and a new channel, and a rule on the old channel.
	apptest.SaveLikeAnEditor(t, path, configB)
	apptest.Eventually(t, "the new channel", func() bool {
		code, titles := apptest.JSONTitles(t, base, "north-korea")
		return code == 200 && len(titles) == 1
	})
	if _, titles := apptest.JSONTitles(t, base, "the-peninsula"); len(titles) != 1 || titles[0] != "Alliance Politics After the Summit" {
		t.Errorf("the-peninsula after reload: %q, want only the item without 경제", titles)
	}
	if _, body := apptest.Get(t, base+"/sources.opml"); !bytes.Contains(body, []byte(`xmlUrl="`+o.URL+`/northkorea.atom"`)) {
		t.Errorf("sources.opml lacks the new source:\n%s", body)
	}
	if o.Count("/northkorea.atom") != 1 {
		t.Errorf("new source polled %d times, want 1", o.Count("/northkorea.atom"))
	}

	// A broken file is refused with its problem logged; B keeps serving.
	broken := strings.Replace(configB, "title: North Korea, tags: [north-korea] }", "title: North Korea, tags: [north-korea], sources: [missing] }", 1)
	apptest.SaveLikeAnEditor(t, path, broken)
	apptest.Eventually(t, "the rejection in the log", func() bool {
		return strings.Contains(logs.String(), "config reload rejected")
	})
	wantProblem := path + `:12: channels[1].sources[0]: no source has id \"missing\"`
	if !strings.Contains(logs.String(), wantProblem) {
		t.Errorf("log lacks %s:\n%s", wantProblem, logs.String())
	}
	if code, titles := apptest.JSONTitles(t, base, "north-korea"); code != 200 || len(titles) != 1 {
		t.Errorf("after a broken reload: north-korea %d %q", code, titles)
	}

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestReloadWhenAsked: with no file watched, Reload (what SIGHUP calls)
// reads the config through Deps.Load and serves it: a channel comes and
// goes; a config that fails to load leaves the running one, and says why.
func TestReloadWhenAsked(t *testing.T) {
	o := newOrigin(t)
	path := writeConfig(t, o.URL, "")
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := string(first)
	r := startApp(t, path, func(d *Deps) {
		d.Watch = ""
		d.Load = func() (config.Config, error) {
			mu.Lock()
			defer mu.Unlock()
			return config.Parse(strings.NewReader(next), "next.yaml")
		}
	})
	apptest.WaitForItems(t, r.base, "think-tanks", 3)
	set := func(s string) {
		mu.Lock()
		next = s
		mu.Unlock()
	}
	reloads := func() int { return strings.Count(r.logs.String(), "config reloaded") }

	set(string(first) + "  - { id: north-korea, title: North Korea, tags: [north-korea] }\n")
	r.Reload("asked")
	apptest.Eventually(t, "the new channel", func() bool {
		code, titles := apptest.JSONTitles(t, r.base, "north-korea")
		return code == 200 && len(titles) == 1
	})
	if !strings.Contains(r.logs.String(), "why=asked") {
		t.Errorf("the reload's log line does not say why:\n%s", r.logs)
	}

	n := reloads()
	set("channels: [ { id: x } ]\n")
	r.Reload("asked again")
	apptest.Eventually(t, "the rejection", func() bool {
		return strings.Contains(r.logs.String(), `msg="config reload rejected; still serving the previous config" why="asked again"`)
	})
	if code, _ := apptest.JSONTitles(t, r.base, "north-korea"); code != 200 || reloads() != n {
		t.Errorf("after a rejected reload: north-korea %d, %d reloads (want 200, %d)", code, reloads(), n)
	}

	set(string(first))
	r.Reload("back")
	apptest.Eventually(t, "the channel gone", func() bool {
		resp, _ := apptest.Get(t, r.base+"/feeds/north-korea.json")
		return resp.StatusCode == 404
	})
	if got := r.Config().Channels; len(got) != 2 {
		t.Errorf("Config() has %d channels after the reload back, want 2", len(got))
	}
}

// TestReloadWithoutLoader: an App given no way to read its config again
// refuses a reload with the reason, and keeps serving.
func TestReloadWithoutLoader(t *testing.T) {
	o := newOrigin(t)
	r := startApp(t, writeConfig(t, o.URL, ""), func(d *Deps) { d.Watch, d.Load = "", nil })
	apptest.WaitForItems(t, r.base, "think-tanks", 3)
	r.Reload("asked")
	apptest.Eventually(t, "the refusal", func() bool {
		return strings.Contains(r.logs.String(), "this server cannot read its config again")
	})
	apptest.WaitForItems(t, r.base, "think-tanks", 3)
}

func TestPrunesToRetention(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "feeds.yaml")
	config := fmt.Sprintf(reloadHead, filepath.Join(dir, "a.db")) +
		fmt.Sprintf("sources:\n  - { id: kei-peninsula, url: %q, keep: { items: 1 } }\n", o.URL+"/peninsula.rss") +
		"channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startApp(t, path)
	base, logs := r.base, r.logs
	apptest.Eventually(t, "the prune", func() bool {
		return strings.Contains(logs.String(), "msg=pruned source=kei-peninsula items=1 batches=1")
	})
	apptest.Eventually(t, "the channel re-rendered", func() bool {
		_, titles := apptest.JSONTitles(t, base, "the-peninsula")
		return len(titles) == 1 && titles[0] == "Alliance Politics After the Summit"
	})
}

// TestRefusesEmptyOrTruncatedReload: an empty feeds.yaml (as an editor
// or a full disk leaves it for a moment), one of comments only, and one cut
// short after its sources are each refused on reload with the problem
// logged, and the channel keeps being served; a file that says
// "sources: []" and "channels: []" unpublishes everything, as asked.
func TestRefusesEmptyOrTruncatedReload(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	head := fmt.Sprintf(reloadHead, filepath.Join(dir, "data", "aggregator.db"))
	sources := "sources:\n" + fmt.Sprintf("  - { id: kei-peninsula, url: %q, title: \"The Peninsula\" }\n", o.URL+"/peninsula.rss")
	full := head + sources + "channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startApp(t, path)
	base, logs := r.base, r.logs
	apptest.WaitForItems(t, base, "the-peninsula", 2)

	for _, tc := range []struct{ name, content, problem string }{
		{"zero bytes", "", "the file is empty (nothing but white space and comments): refusing to unpublish every channel"},
		{"comments only", "# feeds.yaml\n\n   \n", "the file is empty"},
		{"cut after the sources", head + sources, `channels: missing, while the running config has 1 channel: refusing to unpublish them all; write \"channels: []\" to mean it`},
	} {
		n := strings.Count(logs.String(), "config reload rejected")
		// Written in place, as a full disk or a crashed editor leaves it.
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, tc.name+": the rejection in the log", func() bool {
			return strings.Count(logs.String(), "config reload rejected") > n
		})
		if !strings.Contains(logs.String(), tc.problem) {
			t.Errorf("%s: log lacks %q:\n%s", tc.name, tc.problem, logs.String())
		}
		if code, titles := apptest.JSONTitles(t, base, "the-peninsula"); code != 200 || len(titles) != 2 {
			t.Errorf("%s: the channel after the refused reload: %d %q", tc.name, code, titles)
		}
	}

	// Said explicitly, everything goes.
	apptest.SaveLikeAnEditor(t, path, head+"sources: []\nchannels: []\n")
	apptest.Eventually(t, "the channel unpublished", func() bool {
		resp, _ := apptest.Get(t, base+"/feeds/the-peninsula.json")
		return resp.StatusCode == 404
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}
